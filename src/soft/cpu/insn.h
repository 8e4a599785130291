/* soft/cpu/insn.h: the x86-64 decoder and its compact pre-decoded instruction form. */
#ifndef KITE_SOFT_CPU_INSN_H
#define KITE_SOFT_CPU_INSN_H

#include <stdbool.h>
#include <stdint.h>

/* The architectural limit; a longer instruction raises #GP(0). */
#define X86_INSN_MAX_LEN 15

/*
 * Operation ids. One id covers a family whose members differ only in data the
 * decoder already extracted (operand size, sub-operation in insn.sub, operand
 * form), so an interpreter dispatches on it and a translator can switch on it.
 */
enum x86_op {
	OP_UD,	    /* invalid encoding: #UD */
	OP_UNIMPL,  /* valid on real hardware, not executed by this CPU yet: #UD */
	OP_TOOLONG, /* more than 15 bytes: #GP(0) */
	OP_ALU,	    /* sub: 0 add, 1 or, 2 adc, 3 sbb, 4 and, 5 sub, 6 xor, 7 cmp */
	OP_TEST,
	OP_INC,
	OP_DEC,
	OP_NOT,
	OP_NEG,
	OP_MUL,	  /* F6/F7 /4: rDX:rAX = rAX * E */
	OP_IMUL1, /* F6/F7 /5 */
	OP_IMUL2, /* 0F AF: G = G * E */
	OP_IMUL3, /* 69/6B: G = E * imm */
	OP_DIV,
	OP_IDIV,
	OP_SHIFT, /* sub: 0 rol 1 ror 2 rcl 3 rcr 4 shl 5 shr 6 sal 7 sar */
	OP_SHLD,
	OP_SHRD,
	OP_MOV,
	OP_MOVZX, /* source size in insn.ssz */
	OP_MOVSX,
	OP_LEA,
	OP_XCHG,
	OP_NOP,
	OP_PUSH,
	OP_POP,
	OP_PUSHF,
	OP_POPF,
	OP_ENTER,
	OP_LEAVE,
	OP_JCC,	 /* sub: condition code */
	OP_JMP,	 /* relative */
	OP_CALL, /* relative */
	OP_JMPI, /* indirect through E */
	OP_CALLI,
	OP_RET,	 /* imm: bytes to release */
	OP_LOOP, /* sub: 0 loopne 1 loope 2 loop 3 jrcxz */
	OP_SETCC,
	OP_CMOVCC,
	OP_CBW, /* cbw/cwde/cdqe */
	OP_CWD, /* cwd/cdq/cqo */
	OP_BSWAP,
	OP_BT, /* sub: 0 bt 1 bts 2 btr 3 btc */
	OP_BSF,
	OP_BSR,
	OP_TZCNT,
	OP_LZCNT,
	OP_POPCNT,
	OP_MOVS,
	OP_STOS,
	OP_LODS,
	OP_CMPS,
	OP_SCAS,
	OP_INS,
	OP_OUTS,
	OP_IN, /* port in imm (X86_F_IMM_PORT) or DX */
	OP_OUT,
	OP_CMPXCHG,
	OP_CMPXCHG2X, /* cmpxchg8b/16b */
	OP_XADD,
	OP_FLAG, /* sub: 0 clc 1 stc 2 cmc 3 cld 4 std */
	OP_CLI,
	OP_STI,
	OP_LAHF,
	OP_SAHF,
	OP_XLAT,
	OP_CPUID,
	OP_RDTSC,
	OP_MOVBE,
	OP_HLT,
	OP_INT3,
	OP_INT,
	OP_UD2,
	OP_ICEBP, /* F1: INT1, a #DB trap without the gate DPL check */
	OP_SSE, /* 0F/0F38/0F3A SSE, SSE2, MMX and 0F AE /0-/3: insn.map and insn.opc say which */
	OP_X87, /* D8-DF and 9B (FWAIT): insn.opc */
	/* Segmentation, legacy-mode-only and system instructions. */
	OP_PUSHSEG, /* sub: enum x86_seg */
	OP_POPSEG,
	OP_MOVSEG_LD, /* 8E: Sreg (insn.reg) = E */
	OP_MOVSEG_ST, /* 8C: E = Sreg (insn.reg) */
	OP_LSEG,      /* LDS/LES/LSS/LFS/LGS: sub names the segment */
	OP_PUSHA,
	OP_POPA,
	OP_BOUND,
	OP_ARPL,
	OP_BCD, /* sub: 0 daa 1 das 2 aaa 3 aas 4 aam 5 aad (imm: base) */
	OP_INTO,
	OP_SALC,
	OP_JMPF,  /* direct far: imm offset, imm2 selector */
	OP_CALLF,
	OP_JMPFI, /* indirect far through memory E */
	OP_CALLFI,
	OP_RETF, /* imm: bytes to release */
	OP_IRET,
	OP_GRP6,  /* 0F 00: sub is ModRM.reg (sldt str lldt ltr verr verw) */
	OP_GRP7,  /* 0F 01: sub is ModRM.reg, rm the register form's r/m */
	OP_LAR,
	OP_LSL,
	OP_CLTS,
	OP_MOVCR, /* sub: 0 read (0F 20), 1 write (0F 22); reg: CRn, rm: GPR */
	OP_MOVDR, /* sub as OP_MOVCR; reg: DRn */
	OP_RDMSR,
	OP_WRMSR,
	OP_SYSRET,
	OP_SYSEXIT,
	OP_CACHE, /* INVD, WBINVD */
	OP_CLFLUSH,
	OP_NR
};

/* insn.flags */
#define X86_F_MEM     (1u << 0)	 /* the E operand is memory */
#define X86_F_LOCK    (1u << 1)	 /* F0 */
#define X86_F_REP     (1u << 2)	 /* F3 */
#define X86_F_REPNE   (1u << 3)	 /* F2 */
#define X86_F_REX     (1u << 4)	 /* a REX prefix applied */
#define X86_F_RIPREL  (1u << 5)	 /* base is the next RIP */
#define X86_F_IMM_CL  (1u << 6)	 /* shift count or port comes from CL/DX */
#define X86_F_IMM_ONE (1u << 7)	 /* shift by 1 (D0-D3) */
#define X86_F_SEG_OVR (1u << 8)	 /* explicit segment override */
#define X86_F_OSZ16   (1u << 9)	 /* 66 present (mandatory-prefix decisions) */
#define X86_F_MOFFS   (1u << 10) /* memory operand at the absolute address imm */

/* Operand forms (insn.form): which operand is destination. */
enum x86_form {
	X86_FORM_NONE,
	X86_FORM_EG, /* E is destination, G source */
	X86_FORM_GE, /* G is destination, E source */
	X86_FORM_EI, /* E destination, immediate source */
	X86_FORM_E,  /* E only */
};

enum x86_seg { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS };

#define X86_REG_NONE 0xff
/* 8-bit register numbers 16..19 name AH, CH, DH, BH (no REX present). */
#define X86_REG_HIGH8 16

/*
 * The pre-decoded instruction: everything the executor needs, no pointers, so
 * it can be cached per RIP (or per page/block) and handed to a translator.
 * The E (ModRM r/m) operand is either register rm or memory
 * seg:[base + index*scale + disp] (+ next RIP when X86_F_RIPREL).
 */
struct x86_insn {
	uint16_t op;	/* enum x86_op */
	uint16_t flags; /* X86_F_* */
	uint8_t len;	/* total length in bytes */
	uint8_t osz;	/* operand size: 1, 2, 4, 8 */
	uint8_t asz;	/* address size: 2, 4 or 8 */
	uint8_t ssz;	/* source size for movzx/movsx/movsxd, string element size */
	uint8_t form;	/* enum x86_form */
	uint8_t sub;	/* sub-operation or condition code */
	uint8_t reg;	/* G register (ModRM.reg + REX.R), 8-bit high regs as 16..19 */
	uint8_t rm;	/* E register when not memory */
	uint8_t base;	/* memory base register or X86_REG_NONE */
	uint8_t index;	/* memory index register or X86_REG_NONE */
	uint8_t scale;	/* log2 of the index scale */
	uint8_t seg;	/* enum x86_seg used by the memory operand */
	int32_t disp;
	uint64_t imm;  /* sign-extended to 64 bits where the ISA says so */
	uint16_t imm2; /* ENTER's nesting level, a far pointer's selector */
	uint8_t map;   /* 0: one-byte, 1: 0F, 2: 0F 38, 3: 0F 3A */
	uint8_t opc;   /* the opcode byte within map */
	/* Where the parts lie in the bytes, for a translator that re-encodes them. */
	uint8_t opc_at;	  /* first opcode byte (0F escapes included): prefixes and REX before */
	uint8_t modrm_at; /* the ModRM byte, or 0 when there is none */
	uint8_t imm_at;	  /* the first immediate byte (len when there is none) */
};

/*
 * The decoding mode: 64-bit mode, or legacy/compatibility code with the CS.D
 * default of 32 or 16 bits (real mode decodes as X86_MODE_16).
 */
enum x86_mode { X86_MODE_64, X86_MODE_32, X86_MODE_16 };

/*
 * SYSCALL, SYSENTER and RDPMC decode as OP_UNIMPL with this sub-operation
 * (and execute): the differential harness skips OP_UNIMPL, and must never
 * run a random host system call or read the host's counters.
 */
#define X86_UNIMPL_SYSCALL  1
#define X86_UNIMPL_SYSENTER 2
#define X86_UNIMPL_RDPMC    3

/*
 * Decodes one instruction from bytes[0..avail). Returns 0 with insn filled
 * (insn->op may be OP_UD/OP_UNIMPL/OP_TOOLONG: the caller raises the
 * exception), or -EAGAIN when the instruction runs past avail bytes (the
 * caller fetches more or raises the fetch fault for the next page).
 */
int x86_decode(const uint8_t *bytes, unsigned avail, enum x86_mode mode, struct x86_insn *insn);

/*
 * RFLAGS bits whose value the ISA leaves undefined after insn (for the
 * differential harness, which compares every other bit). Bits an instruction
 * does not write at all are never in the mask: they must be unchanged.
 */
uint32_t x86_insn_undefined_flags(const struct x86_insn *insn);

/* A short mnemonic for logs and test reports. */
const char *x86_op_name(unsigned op);

#endif
