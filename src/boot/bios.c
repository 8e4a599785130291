/*
 * boot/bios.c: what a PC BIOS leaves behind, for multiboot kernels.
 *
 * GRUB boots a multiboot kernel from a BIOS PC, and the multiboot spec is
 * silent about everything but the CPU, so such kernels meet what the BIOS's
 * POST left: the 8259s at vectors 08h/70h, the 8254's channel 0 ticking
 * IRQ 0 at 18.2 Hz, and a real-mode IVT whose vectors all lead somewhere.
 * kvm-unit-tests' realmode test relies on it: it drops to real mode, points
 * IDTR at the IVT, and waits in STI; HLT for any interrupt (the PIT's, under
 * SeaBIOS). kite has no firmware, so it gives the same: the IVT, a page of
 * 16-bit handlers in the BIOS segment, and a few 32-bit instructions run
 * before the kernel's entry that program the PICs and the PIT exactly as a
 * BIOS does, by port writes, so that both engines' devices get them.
 */
#include "boot/loader.h"

#include <errno.h>

#define IVT_ENTRIES 256
#define BIOS_SEG    0xf000u
#define BIOS_BASE   ((uint64_t)BIOS_SEG << 4)

/*
 * Two handlers sit at the IBM PC/AT BIOS's fixed entry points, which
 * compatible BIOSes (SeaBIOS too) keep for old software that jumps to or
 * looks for them: F000:FEA5 the timer interrupt, F000:FF53 the dummy IRET.
 */
#define IP_IRQ_MASTER 0xfea5u /* IRQs 0-7, the timer's vector 08h first */
#define IP_IRET	      0xff53u /* every vector without a device */
#define IP_IRQ_SLAVE  0xf100u /* IRQs 8-15 */
#define IP_INIT	      0xf000u /* the 32-bit programming, run once before the kernel */
#define STUBS_OFFSET  (MEM_BIOS_STUBS - BIOS_BASE)
#define STUBS_SIZE    (MEM_BIOS_END - MEM_BIOS_STUBS)

_Static_assert(IP_INIT >= STUBS_OFFSET && IP_IRQ_SLAVE >= STUBS_OFFSET &&
		   IP_IRQ_MASTER >= STUBS_OFFSET && IP_IRET >= STUBS_OFFSET,
	       "the handlers must lie in the stub page");

/* The vectors the BIOS gives the PICs (the PC/AT's, which ICW2 sets). */
#define VEC_MASTER 0x08
#define VEC_SLAVE  0x70

/* 16-bit real-mode code: a non-specific EOI to the PIC(s) the IRQ came through. */
static const uint8_t irq_master[] = {
    0x50,	/* push ax */
    0xb0, 0x20, /* mov al, 20h (OCW2: non-specific EOI) */
    0xe6, 0x20, /* out 20h, al */
    0x58,	/* pop ax */
    0xcf,	/* iret */
};
static const uint8_t irq_slave[] = {
    0x50,	/* push ax */
    0xb0, 0x20, /* mov al, 20h */
    0xe6, 0xa0, /* out 0a0h, al */
    0xe6, 0x20, /* out 20h, al: the cascade's IRQ 2 too */
    0x58,	/* pop ax */
    0xcf,	/* iret */
};
static const uint8_t iret[] = {0xcf};

/*
 * The BIOS's device programming, as port writes in order: both 8259s
 * initialised (ICW1-4: edge, cascaded on IRQ 2, 8086 mode, normal EOI),
 * only the timer and the cascade unmasked (the handlers above serve no
 * other device), and the 8254's channel 0 in mode 3 with the full count
 * 65536: IRQ 0 every 54.9 ms.
 */
static const struct {
	uint8_t port, val;
} init_writes[] = {
    {0x20, 0x11},	{0xa0, 0x11},	   /* ICW1: edge triggered, cascade, ICW4 follows */
    {0x21, VEC_MASTER}, {0xa1, VEC_SLAVE}, /* ICW2: vector bases */
    {0x21, 0x04},	{0xa1, 0x02},	   /* ICW3: the slave on IRQ 2, its identity 2 */
    {0x21, 0x01},	{0xa1, 0x01},	   /* ICW4: 8086 mode */
    {0x21, 0xfa},	{0xa1, 0xff},	   /* OCW1: IRQ 0 and the cascade unmasked */
    {0x43, 0x36},			   /* PIT: channel 0, low then high byte, mode 3 */
    {0x40, 0x00},	{0x40, 0x00},	   /* count 0 = 65536 */
};

#define INIT_MAX (ARRAY_SIZE(init_writes) * 4 + 5 + 5)

/* mov al, val; out port, al for each write, then EAX = magic and a jump to entry. */
static size_t init_code(uint8_t *p, uint32_t at, uint32_t eax, uint32_t entry)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(init_writes); i++) {
		p[n++] = 0xb0; /* mov al, imm8 */
		p[n++] = init_writes[i].val;
		p[n++] = 0xe6; /* out imm8, al */
		p[n++] = init_writes[i].port;
	}
	/* AL was the only register used: EAX gets its entry value back. */
	p[n++] = 0xb8; /* mov eax, imm32 */
	put_le32(p + n, eax);
	n += 4;
	p[n++] = 0xe9; /* jmp rel32: EIP wraps at 4 GiB, so any entry is in reach */
	put_le32(p + n, entry - (uint32_t)(at + n + 4));
	return n + 4;
}

int bios_ivt_write(struct guest_memory *mem, struct err *err)
{
	uint8_t ivt[IVT_ENTRIES * 4];

	for (unsigned v = 0; v < IVT_ENTRIES; v++) {
		uint16_t ip = IP_IRET;

		if (v >= VEC_MASTER && v < VEC_MASTER + 8)
			ip = IP_IRQ_MASTER;
		else if (v >= VEC_SLAVE && v < VEC_SLAVE + 8)
			ip = IP_IRQ_SLAVE;
		put_le16(ivt + 4 * v, ip);
		put_le16(ivt + 4 * v + 2, BIOS_SEG);
	}
	if (memory_write(mem, 0, ivt, sizeof(ivt)))
		return err_set(err, -EFAULT, "no guest RAM for the IVT");
	return 0;
}

int bios_enter(struct guest_memory *mem, struct x86_cpu_state *bsp, struct err *err)
{
	uint8_t stubs[STUBS_SIZE] = {0};
	uint32_t at = (uint32_t)(BIOS_BASE + IP_INIT);

	_Static_assert(IP_INIT + INIT_MAX <= IP_IRQ_SLAVE, "the init code must not overlap");
	memcpy(stubs + (IP_IRQ_MASTER - STUBS_OFFSET), irq_master, sizeof(irq_master));
	memcpy(stubs + (IP_IRQ_SLAVE - STUBS_OFFSET), irq_slave, sizeof(irq_slave));
	memcpy(stubs + (IP_IRET - STUBS_OFFSET), iret, sizeof(iret));
	init_code(stubs + (IP_INIT - STUBS_OFFSET), at, (uint32_t)bsp->gpr[X86_RAX],
		  (uint32_t)bsp->rip);
	if (memory_write(mem, MEM_BIOS_STUBS, stubs, sizeof(stubs)))
		return err_set(err, -EFAULT, "no guest RAM for the BIOS stubs at 0x%llx",
			       (unsigned long long)MEM_BIOS_STUBS);
	bsp->rip = at;
	return 0;
}
