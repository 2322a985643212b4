/*
 * Xen PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), name "Xen", an 8-byte
 * descriptor holding the 32-bit entry's physical address (as Linux writes
 * it; loaders read the low 4 bytes or all 8).  Linked into every guest
 * except hello64, which tests the loader's 64-bit entry path.
 */
	.section .note.Xen, "a", @note
	.balign	4
	.long	4			/* n_namesz: "Xen\0" */
	.long	8			/* n_descsz */
	.long	18			/* n_type: XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.balign	4
	.quad	pvh_start
	.balign	4

	.section .note.GNU-stack, "", @progbits
