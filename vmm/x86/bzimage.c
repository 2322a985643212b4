#include <errno.h>
#include <string.h>

#include "../../lib/util.h"
#include "kernel.h"
#include "layout.h"

/* Offsets from Documentation/arch/x86/boot.rst. */
#define SETUP_HDR_OFF 0x1f1
#define BOOT_FLAG_OFF 0x1fe
#define HDRS_OFF      0x202
#define MIN_PROTOCOL  0x020c /* 2.12: xloadflags tells us the 64-bit entry exists */

#define EINVAL_WHY(msg)         \
	do {                    \
		*why = (msg);   \
		return -EINVAL; \
	} while (0)

int bzimage_load(const uint8_t *img, size_t len, struct guest_mem *m, struct kernel_info *ki,
		 const char **why)
{
	struct setup_header hdr;

	*why = NULL;
	if (len < HDRS_OFF + 4 || memcmp(img + HDRS_OFF, "HdrS", 4))
		return -ENOEXEC;
	if (len < SETUP_HDR_OFF + sizeof(hdr))
		EINVAL_WHY("bzImage setup header truncated");
	memcpy(&hdr, img + SETUP_HDR_OFF, sizeof(hdr));
	/* The header is as long as its own jump at 0x200 says; keep only that much. */
	size_t hdr_len = (size_t)(HDRS_OFF + img[0x201]) - SETUP_HDR_OFF;
	if (hdr_len < sizeof(hdr))
		memset((uint8_t *)&hdr + hdr_len, 0, sizeof(hdr) - hdr_len);

	if (hdr.boot_flag != 0xaa55)
		EINVAL_WHY("bzImage boot flag is not 0xAA55");
	if (hdr.version < MIN_PROTOCOL)
		EINVAL_WHY("bzImage boot protocol older than 2.12 (kernel before 3.8?)");
	if (!(hdr.loadflags & LOADED_HIGH))
		EINVAL_WHY("zImage (not loaded high) is not supported");
	if (!(hdr.xloadflags & XLF_KERNEL_64))
		EINVAL_WHY("bzImage has no 64-bit entry point (XLF_KERNEL_64 clear)");

	size_t setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
	size_t pm_off = (setup_sects + 1) * 512;
	if (pm_off >= len)
		EINVAL_WHY("bzImage has no protected-mode kernel (truncated?)");
	size_t pm_len = len - pm_off;
	if ((uint64_t)hdr.syssize * 16 > pm_len)
		EINVAL_WHY("bzImage is shorter than its header's syssize (truncated?)");

	/* Loaded at 1 MiB; it decompresses to pref_address and needs init_size there. */
	uint64_t load = HIMEM_START;
	uint64_t need_end = MAX(load + pm_len, hdr.pref_address + (uint64_t)hdr.init_size);
	if (hdr.pref_address + (uint64_t)hdr.init_size < hdr.pref_address)
		EINVAL_WHY("bzImage init_size overflows");
	if (!gpa_to_hva(m, load, need_end - load))
		return -EFBIG;
	memcpy(gpa_to_hva(m, load, pm_len), img + pm_off, pm_len);

	memset(ki, 0, sizeof(*ki));
	ki->mode = ENTRY_LINUX64;
	ki->entry = load + 0x200;
	ki->load_end = need_end;
	ki->is_bzimage = true;
	ki->is_linux = true;
	ki->hdr = hdr;
	ki->initrd_max = MIN(guest_mem_low_end(m), (uint64_t)hdr.initrd_addr_max + 1);
	ki->cmdline_max = hdr.cmdline_size
			      ? (uint32_t)MIN((uint64_t)hdr.cmdline_size + 1, CMDLINE_MAX_SIZE)
			      : 256;
	return 0;
}
