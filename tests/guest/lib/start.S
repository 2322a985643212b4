/*
 * Entry points of a test guest.
 *
 *   pvh_start  32-bit protected mode, paging off (Xen PVH boot ABI):
 *              EBX = physical address of struct hvm_start_info.
 *   entry64    64-bit long mode on the loader's identity map (Linux 64-bit
 *              boot protocol): RSI = physical address of struct boot_params.
 *
 * Both zero the bss, record where the command line is, build the guest's
 * own identity map of 0..4 GiB (2 MiB pages, 4 page directories; the
 * 3..4 GiB MMIO gigabyte uncached), load the guest's GDT, switch to the
 * stack in the bss and call guest_start(cmdline_paddr).  No stack is used
 * before that, so the loader need not provide one.
 */
#define CR0_PE		0x00000001
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100

#define PTE_P		0x001
#define PTE_RW		0x002
#define PTE_PWT		0x008
#define PTE_PCD		0x010
#define PTE_PS		0x080

#define HVM_START_MAGIC	0x336ec578
#define HVM_CMDLINE	24		/* offsetof(hvm_start_info, cmdline_paddr) */
#define BP_EXT_CMDLINE	0x0c8		/* offsetof(boot_params, ext_cmd_line_ptr) */
#define BP_CMDLINE	0x228		/* offsetof(boot_params, hdr.cmd_line_ptr) */

#define BOOT_PVH	1
#define BOOT_LINUX64	2

#define GDT_CODE64	0x08
#define GDT_DATA	0x10

#define STACK_SIZE	16384

/*
 * Fill the four page directories: entry i maps 2 MiB page i (i < 2048).
 * Uses only 32-bit registers so it assembles for both entry modes; the
 * upper halves of the entries are already zero (bss).
 */
.macro BUILD_PAGE_TABLES
	movl	$(pdpt + PTE_P + PTE_RW), pml4
	movl	$(pd + 0x0000 + PTE_P + PTE_RW), pdpt + 0
	movl	$(pd + 0x1000 + PTE_P + PTE_RW), pdpt + 8
	movl	$(pd + 0x2000 + PTE_P + PTE_RW), pdpt + 16
	movl	$(pd + 0x3000 + PTE_P + PTE_RW), pdpt + 24
	xorl	%ecx, %ecx
10:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$(PTE_P + PTE_RW + PTE_PS), %eax
	cmpl	$1536, %ecx			/* 3 GiB and up: MMIO, uncached */
	jb	11f
	orl	$(PTE_PWT + PTE_PCD), %eax
11:	movl	%eax, pd(,%ecx,8)
	incl	%ecx
	cmpl	$2048, %ecx
	jne	10b
.endm

	.section .text.entry, "ax"

	.code32
	.globl	pvh_start
	.type	pvh_start, @function
pvh_start:
	cli
	cld
	movl	%ebx, %esi			/* keep hvm_start_info */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$2, %ecx
	xorl	%eax, %eax
	rep stosl
	movl	$BOOT_PVH, boot_entry
	movl	%esi, boot_info
	cmpl	$HVM_START_MAGIC, (%esi)
	jne	1f
	movl	HVM_CMDLINE(%esi), %eax
	movl	%eax, boot_cmdline
	movl	HVM_CMDLINE+4(%esi), %eax
	movl	%eax, boot_cmdline+4
1:
	BUILD_PAGE_TABLES
	lgdt	gdt_desc
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG + CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$GDT_CODE64, $long_mode
	.size	pvh_start, . - pvh_start

	.code64
	.globl	entry64
	.type	entry64, @function
entry64:
	cli
	cld
	movq	%rsi, %r12			/* keep boot_params */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$3, %ecx
	xorl	%eax, %eax
	rep stosq
	movl	$BOOT_LINUX64, boot_entry(%rip)
	movq	%r12, boot_info(%rip)
	movl	BP_CMDLINE(%r12), %eax
	movl	BP_EXT_CMDLINE(%r12), %edx
	shlq	$32, %rdx
	orq	%rdx, %rax
	movq	%rax, boot_cmdline(%rip)
	BUILD_PAGE_TABLES
	lgdt	gdt_desc(%rip)
	movl	$pml4, %eax
	movq	%rax, %cr3
	movl	$stack_top, %esp
	pushq	$GDT_CODE64			/* reload CS from our GDT */
	pushq	$long_mode
	lretq
	.size	entry64, . - entry64

long_mode:
	movl	$GDT_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$stack_top, %esp
	xorl	%ebp, %ebp
	movq	boot_cmdline(%rip), %rdi
	call	guest_start
2:	hlt
	jmp	2b

	.section .data
	.balign	16
gdt:
	.quad	0
	.quad	0x00af9b000000ffff		/* 0x08: 64-bit code, accessed */
	.quad	0x00cf93000000ffff		/* 0x10: flat data, accessed */
gdt_end:
	.balign	8
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.section .bss
	.balign	4096
pml4:	.skip	4096
pdpt:	.skip	4096
pd:	.skip	4 * 4096
	.balign	16
stack:	.skip	STACK_SIZE
stack_top:
	.balign	8
	.globl	boot_info, boot_cmdline, boot_entry
boot_info:	.skip	8		/* hvm_start_info or boot_params address */
boot_cmdline:	.skip	8		/* command line address, 0 if none */
boot_entry:	.skip	4		/* BOOT_PVH or BOOT_LINUX64 */

	.section .note.GNU-stack, "", @progbits
