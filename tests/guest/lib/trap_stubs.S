/*
 * Exception stubs for vectors 0..31.  Each pushes a dummy error code where
 * the CPU does not push one, then the vector, and jumps to trap_common,
 * which hands the frame to trap_handler() (traps.c): it prints the fault
 * and a FAIL verdict, then resets the machine.  Interrupts stay disabled;
 * only exceptions ever arrive here.
 */
	.section .text

.macro TRAP vec, cpu_pushes_error
trap_\vec:
	.if !\cpu_pushes_error
	pushq	$0
	.endif
	pushq	$\vec
	jmp	trap_common
.endm

.irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
	TRAP \v, 0
.endr
.irp v, 8,10,11,12,13,14,17,21,29,30
	TRAP \v, 1
.endr

trap_common:
	movq	%rsp, %rdi			/* struct trap_frame * */
	andq	$-16, %rsp
	call	trap_handler
1:	hlt
	jmp	1b

	.section .rodata
	.balign	8
	.globl	trap_stubs
trap_stubs:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	trap_\v
.endr

	.section .note.GNU-stack, "", @progbits
