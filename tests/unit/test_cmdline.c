/* vmm/cmdline.[ch]: building the guest's command line, finding a word in one. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../vmm/cmdline.h"

Test(cmdline, has_word_matches_whole_words_only)
{
	cr_expect(cmdline_has_word("acpi=off", "acpi=off"));
	cr_expect(cmdline_has_word("console=ttyS0 acpi=off panic=1", "acpi=off"));
	cr_expect(cmdline_has_word("console=ttyS0\tacpi=off", "acpi=off"));
	cr_expect(cmdline_has_word("x acpi=offx acpi=off", "acpi=off"), "the second is whole");
	cr_expect_not(cmdline_has_word("acpi=offline", "acpi=off"));
	cr_expect_not(cmdline_has_word("noacpi=off", "acpi=off"));
	cr_expect_not(cmdline_has_word("", "acpi=off"));
	cr_expect_not(cmdline_has_word(NULL, "acpi=off"));
	cr_expect_not(cmdline_has_word("acpi=off", ""));
}

Test(cmdline, append_separates_words_and_reports_overflow)
{
	struct cmdline c = { 0 };
	cmdline_append(&c, "%s", "console=ttyS0");
	cmdline_append(&c, "root=%s", "/dev/vda");
	cr_expect_str_eq(c.buf, "console=ttyS0 root=/dev/vda");
	cr_expect_not(c.overflow);
	char big[CMDLINE_MAX_SIZE + 8];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cmdline_append(&c, "%s", big);
	cr_expect(c.overflow);
	cr_expect_gt(c.wanted, sizeof(c.buf));
}
