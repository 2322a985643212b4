/* Command-line parameters and virtio_mmio.device= entries. */
#include "cmdline.h"

#define VIRTIO_MMIO_KEY "virtio_mmio.device"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/*
 * Walk the words; for each "key=value" whose key matches, call fn with the
 * value and its length.  Stops early if fn returns false.
 */
static void for_each_value(const char *s, const char *key,
			   bool (*fn)(const char *v, size_t len, void *arg), void *arg)
{
	size_t klen = strlen(key);

	while (*s) {
		while (is_space(*s))
			s++;
		const char *word = s;
		while (*s && !is_space(*s))
			s++;
		if ((size_t)(s - word) > klen && !strncmp(word, key, klen) && word[klen] == '=') {
			const char *v = word + klen + 1;
			if (!fn(v, (size_t)(s - v), arg))
				return;
		}
	}
}

struct copy_arg {
	char *buf;
	size_t size;
	bool found;
};

static bool copy_value(const char *v, size_t len, void *arg)
{
	struct copy_arg *a = arg;

	if (len > a->size - 1)
		len = a->size - 1;
	memcpy(a->buf, v, len);
	a->buf[len] = 0;
	a->found = true;
	return true;	/* keep going: the last one wins, as in Linux */
}

bool cmdline_get(const char *cmdline, const char *key, char *buf, size_t size)
{
	struct copy_arg a = { buf, size, false };

	if (!size)
		return false;
	for_each_value(cmdline, key, copy_value, &a);
	return a.found;
}

const char *parse_size(const char *s, uint64_t *val)
{
	uint64_t v = 0;
	const char *start;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (start = s += 2;; s++) {
			char c = *s;
			unsigned d;
			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				break;
			v = v * 16 + d;
		}
	} else {
		for (start = s; *s >= '0' && *s <= '9'; s++)
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s == start)
		return NULL;
	switch (*s) {
	case 'G':
	case 'g':
		v <<= 10;
		/* fall through */
	case 'M':
	case 'm':
		v <<= 10;
		/* fall through */
	case 'K':
	case 'k':
		v <<= 10;
		s++;
	}
	*val = v;
	return s;
}

bool cmdline_get_u64(const char *cmdline, const char *key, uint64_t *val)
{
	char buf[32];
	const char *end;

	if (!cmdline_get(cmdline, key, buf, sizeof(buf)))
		return false;
	end = parse_size(buf, val);
	if (!end || *end) {
		printf("cmdline: %s=%s is not a number\n", key, buf);
		return false;
	}
	return true;
}

struct slots_arg {
	struct mmio_slot *slots;
	int max, n;
};

static bool add_slot(const char *v, size_t len, void *arg)
{
	struct slots_arg *a = arg;
	struct mmio_slot s;
	uint64_t irq;
	char buf[64];
	const char *p;

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, v, len);
	buf[len] = 0;
	/* <size>@<base>:<irq>[:<id>] */
	if (!(p = parse_size(buf, &s.size)) || *p++ != '@' || !(p = parse_size(p, &s.base)) ||
	    *p++ != ':' || !(p = parse_size(p, &irq)) || (*p && *p != ':') || !s.size) {
		printf("cmdline: ignoring malformed " VIRTIO_MMIO_KEY "=%s\n", buf);
		return true;
	}
	s.irq = (uint32_t)irq;
	if (a->n < a->max)
		a->slots[a->n++] = s;
	return a->n < a->max;
}

int cmdline_virtio_mmio(const char *cmdline, struct mmio_slot *slots, int max)
{
	struct slots_arg a = { slots, max, 0 };

	if (max > 0)
		for_each_value(cmdline, VIRTIO_MMIO_KEY, add_slot, &a);
	return a.n;
}
