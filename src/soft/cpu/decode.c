/* soft/cpu/decode.c: table-driven x86-64 decoder into struct x86_insn. */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "base/x86.h"
#include "soft/cpu/insn.h"

/* Immediate kinds. */
enum { I_NONE, I_B, I_W, I_Z, I_V, I_MOFFS, I_WB, I_FAR };

/* Decoder attributes. */
#define A_M	  (1u << 0)  /* has ModRM */
#define A_B	  (1u << 1)  /* byte operation */
#define A_D64	  (1u << 2)  /* default 64-bit operand size, 66 gives 16 */
#define A_F64	  (1u << 3)  /* fixed 64-bit operand size (near branches on Intel) */
#define A_LOCK	  (1u << 4)  /* LOCK allowed with a memory destination */
#define A_REGOP	  (1u << 5)  /* low opcode bits + REX.B name the E register */
#define A_GRP	  (1u << 6)  /* sub names a group table indexed by ModRM.reg */
#define A_MEMONLY (1u << 7)  /* register form is #UD */
#define A_SUBREG  (1u << 8)  /* sub is ModRM.reg */
#define A_ACC	  (1u << 9)  /* E is the accumulator (no ModRM) */
#define A_MOFFS	  (1u << 10) /* E is memory at an absolute offset */
#define A_MREG	  (1u << 11) /* ModRM names registers whatever its mod (MOV CR/DR) */

struct opd {
	uint8_t op;
	uint8_t sub;
	uint8_t imm;
	uint8_t form;
	uint16_t a;
	uint8_t ssz;
};

#define E(o, s, i, f, at)                                                                          \
	{                                                                                          \
		.op = (o), .sub = (s), .imm = (i), .form = (f), .a = (at)                          \
	}
#define UD   E(OP_UD, 0, I_NONE, 0, 0)
#define UNI  E(OP_UNIMPL, 0, I_NONE, 0, 0)
#define UNIM E(OP_UNIMPL, 0, I_NONE, 0, A_M)

#define ALU_ROW(b, s)                                                                              \
	[(b) + 0] = E(OP_ALU, s, I_NONE, X86_FORM_EG, A_M | A_B | A_LOCK),                         \
	       [(b) + 1] = E(OP_ALU, s, I_NONE, X86_FORM_EG, A_M | A_LOCK),                        \
	       [(b) + 2] = E(OP_ALU, s, I_NONE, X86_FORM_GE, A_M | A_B),                           \
	       [(b) + 3] = E(OP_ALU, s, I_NONE, X86_FORM_GE, A_M),                                 \
	       [(b) + 4] = E(OP_ALU, s, I_Z, X86_FORM_EI, A_B | A_ACC),                            \
	       [(b) + 5] = E(OP_ALU, s, I_Z, X86_FORM_EI, A_ACC)

#define R8(b, ent)                                                                                 \
	[(b)] = ent, [(b) + 1] = ent, [(b) + 2] = ent, [(b) + 3] = ent, [(b) + 4] = ent,           \
	[(b) + 5] = ent, [(b) + 6] = ent, [(b) + 7] = ent

#define CC16(b, o, i, f, at)                                                                       \
	[(b) + 0] = E(o, 0, i, f, at), [(b) + 1] = E(o, 1, i, f, at),                              \
	       [(b) + 2] = E(o, 2, i, f, at), [(b) + 3] = E(o, 3, i, f, at),                       \
	       [(b) + 4] = E(o, 4, i, f, at), [(b) + 5] = E(o, 5, i, f, at),                       \
	       [(b) + 6] = E(o, 6, i, f, at), [(b) + 7] = E(o, 7, i, f, at),                       \
	       [(b) + 8] = E(o, 8, i, f, at), [(b) + 9] = E(o, 9, i, f, at),                       \
	       [(b) + 10] = E(o, 10, i, f, at), [(b) + 11] = E(o, 11, i, f, at),                   \
	       [(b) + 12] = E(o, 12, i, f, at), [(b) + 13] = E(o, 13, i, f, at),                   \
	       [(b) + 14] = E(o, 14, i, f, at), [(b) + 15] = E(o, 15, i, f, at)

enum { G1A, G3, G4, G5, G8, G9, G11, G15, NR_GROUPS };

static const struct opd one_byte[256] = {
    ALU_ROW(0x00, 0),
    ALU_ROW(0x08, 1),
    ALU_ROW(0x10, 2),
    ALU_ROW(0x18, 3),
    ALU_ROW(0x20, 4),
    ALU_ROW(0x28, 5),
    ALU_ROW(0x30, 6),
    ALU_ROW(0x38, 7),
    [0x06] = UD,
    [0x07] = UD,
    [0x0e] = UD,
    [0x16] = UD,
    [0x17] = UD,
    [0x1e] = UD,
    [0x1f] = UD,
    [0x27] = UD,
    [0x2f] = UD,
    [0x37] = UD,
    [0x3f] = UD,
    R8(0x50, E(OP_PUSH, 0, I_NONE, X86_FORM_E, A_REGOP | A_D64)),
    R8(0x58, E(OP_POP, 0, I_NONE, X86_FORM_E, A_REGOP | A_D64)),
    [0x60] = UD,
    [0x61] = UD,
    [0x62] = UD,
    [0x63] = {.op = OP_MOVSX, .form = X86_FORM_GE, .a = A_M, .ssz = 4},
    [0x68] = E(OP_PUSH, 0, I_Z, X86_FORM_NONE, A_D64),
    [0x69] = E(OP_IMUL3, 0, I_Z, X86_FORM_GE, A_M),
    [0x6a] = E(OP_PUSH, 0, I_B, X86_FORM_NONE, A_D64),
    [0x6b] = E(OP_IMUL3, 0, I_B, X86_FORM_GE, A_M),
    [0x6c] = E(OP_INS, 0, I_NONE, 0, A_B),
    [0x6d] = E(OP_INS, 0, I_NONE, 0, 0),
    [0x6e] = E(OP_OUTS, 0, I_NONE, 0, A_B),
    [0x6f] = E(OP_OUTS, 0, I_NONE, 0, 0),
    CC16(0x70, OP_JCC, I_B, 0, A_F64),
    [0x80] = E(OP_ALU, 0, I_Z, X86_FORM_EI, A_M | A_B | A_SUBREG | A_LOCK),
    [0x81] = E(OP_ALU, 0, I_Z, X86_FORM_EI, A_M | A_SUBREG | A_LOCK),
    [0x82] = UD,
    [0x83] = E(OP_ALU, 0, I_B, X86_FORM_EI, A_M | A_SUBREG | A_LOCK),
    [0x84] = E(OP_TEST, 0, I_NONE, X86_FORM_EG, A_M | A_B),
    [0x85] = E(OP_TEST, 0, I_NONE, X86_FORM_EG, A_M),
    [0x86] = E(OP_XCHG, 0, I_NONE, X86_FORM_EG, A_M | A_B | A_LOCK),
    [0x87] = E(OP_XCHG, 0, I_NONE, X86_FORM_EG, A_M | A_LOCK),
    [0x88] = E(OP_MOV, 0, I_NONE, X86_FORM_EG, A_M | A_B),
    [0x89] = E(OP_MOV, 0, I_NONE, X86_FORM_EG, A_M),
    [0x8a] = E(OP_MOV, 0, I_NONE, X86_FORM_GE, A_M | A_B),
    [0x8b] = E(OP_MOV, 0, I_NONE, X86_FORM_GE, A_M),
    [0x8c] = E(OP_MOVSEG_ST, 0, I_NONE, X86_FORM_E, A_M),
    [0x8d] = E(OP_LEA, 0, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0x8e] = E(OP_MOVSEG_LD, 0, I_NONE, X86_FORM_E, A_M),
    [0x8f] = E(0, G1A, I_NONE, 0, A_M | A_GRP | A_D64),
    R8(0x90, E(OP_XCHG, 0, I_NONE, X86_FORM_EG, A_REGOP)),
    [0x98] = E(OP_CBW, 0, I_NONE, 0, 0),
    [0x99] = E(OP_CWD, 0, I_NONE, 0, 0),
    [0x9a] = UD,
    [0x9b] = E(OP_X87, 0, I_NONE, 0, 0),
    [0x9c] = E(OP_PUSHF, 0, I_NONE, 0, A_D64),
    [0x9d] = E(OP_POPF, 0, I_NONE, 0, A_D64),
    [0x9e] = E(OP_SAHF, 0, I_NONE, 0, 0),
    [0x9f] = E(OP_LAHF, 0, I_NONE, 0, 0),
    [0xa0] = E(OP_MOV, 0, I_MOFFS, X86_FORM_GE, A_B | A_MOFFS),
    [0xa1] = E(OP_MOV, 0, I_MOFFS, X86_FORM_GE, A_MOFFS),
    [0xa2] = E(OP_MOV, 0, I_MOFFS, X86_FORM_EG, A_B | A_MOFFS),
    [0xa3] = E(OP_MOV, 0, I_MOFFS, X86_FORM_EG, A_MOFFS),
    [0xa4] = E(OP_MOVS, 0, I_NONE, 0, A_B),
    [0xa5] = E(OP_MOVS, 0, I_NONE, 0, 0),
    [0xa6] = E(OP_CMPS, 0, I_NONE, 0, A_B),
    [0xa7] = E(OP_CMPS, 0, I_NONE, 0, 0),
    [0xa8] = E(OP_TEST, 0, I_Z, X86_FORM_EI, A_B | A_ACC),
    [0xa9] = E(OP_TEST, 0, I_Z, X86_FORM_EI, A_ACC),
    [0xaa] = E(OP_STOS, 0, I_NONE, 0, A_B),
    [0xab] = E(OP_STOS, 0, I_NONE, 0, 0),
    [0xac] = E(OP_LODS, 0, I_NONE, 0, A_B),
    [0xad] = E(OP_LODS, 0, I_NONE, 0, 0),
    [0xae] = E(OP_SCAS, 0, I_NONE, 0, A_B),
    [0xaf] = E(OP_SCAS, 0, I_NONE, 0, 0),
    R8(0xb0, E(OP_MOV, 0, I_Z, X86_FORM_EI, A_REGOP | A_B)),
    R8(0xb8, E(OP_MOV, 0, I_V, X86_FORM_EI, A_REGOP)),
    [0xc0] = E(OP_SHIFT, 0, I_B, X86_FORM_E, A_M | A_B | A_SUBREG),
    [0xc1] = E(OP_SHIFT, 0, I_B, X86_FORM_E, A_M | A_SUBREG),
    [0xc2] = E(OP_RET, 0, I_W, 0, A_F64),
    [0xc3] = E(OP_RET, 0, I_NONE, 0, A_F64),
    [0xc4] = UNI,
    [0xc5] = UNI,
    [0xc6] = E(0, G11, I_NONE, 0, A_M | A_B | A_GRP),
    [0xc7] = E(0, G11, I_NONE, 0, A_M | A_GRP),
    [0xc8] = E(OP_ENTER, 0, I_WB, 0, A_D64),
    [0xc9] = E(OP_LEAVE, 0, I_NONE, 0, A_D64),
    [0xca] = E(OP_RETF, 0, I_W, 0, 0),
    [0xcb] = E(OP_RETF, 0, I_NONE, 0, 0),
    [0xcc] = E(OP_INT3, 0, I_NONE, 0, 0),
    [0xcd] = E(OP_INT, 0, I_B, 0, 0),
    [0xce] = UD,
    [0xcf] = E(OP_IRET, 0, I_NONE, 0, 0),
    [0xd0] = E(OP_SHIFT, 0, I_NONE, X86_FORM_E, A_M | A_B | A_SUBREG),
    [0xd1] = E(OP_SHIFT, 0, I_NONE, X86_FORM_E, A_M | A_SUBREG),
    [0xd2] = E(OP_SHIFT, 0, I_NONE, X86_FORM_E, A_M | A_B | A_SUBREG),
    [0xd3] = E(OP_SHIFT, 0, I_NONE, X86_FORM_E, A_M | A_SUBREG),
    [0xd4] = UD,
    [0xd5] = UD,
    [0xd6] = UD,
    [0xd7] = E(OP_XLAT, 0, I_NONE, 0, A_B),
    R8(0xd8, E(OP_X87, 0, I_NONE, 0, A_M)),
    [0xe0] = E(OP_LOOP, 0, I_B, 0, A_F64),
    [0xe1] = E(OP_LOOP, 1, I_B, 0, A_F64),
    [0xe2] = E(OP_LOOP, 2, I_B, 0, A_F64),
    [0xe3] = E(OP_LOOP, 3, I_B, 0, A_F64),
    [0xe4] = E(OP_IN, 0, I_B, 0, A_B),
    [0xe5] = E(OP_IN, 0, I_B, 0, 0),
    [0xe6] = E(OP_OUT, 0, I_B, 0, A_B),
    [0xe7] = E(OP_OUT, 0, I_B, 0, 0),
    [0xe8] = E(OP_CALL, 0, I_Z, 0, A_F64),
    [0xe9] = E(OP_JMP, 0, I_Z, 0, A_F64),
    [0xea] = UD,
    [0xeb] = E(OP_JMP, 0, I_B, 0, A_F64),
    [0xec] = E(OP_IN, 1, I_NONE, 0, A_B),
    [0xed] = E(OP_IN, 1, I_NONE, 0, 0),
    [0xee] = E(OP_OUT, 1, I_NONE, 0, A_B),
    [0xef] = E(OP_OUT, 1, I_NONE, 0, 0),
    [0xf1] = E(OP_ICEBP, 0, I_NONE, 0, 0),
    [0xf4] = E(OP_HLT, 0, I_NONE, 0, 0),
    [0xf5] = E(OP_FLAG, 2, I_NONE, 0, 0),
    [0xf6] = E(0, G3, I_NONE, 0, A_M | A_B | A_GRP),
    [0xf7] = E(0, G3, I_NONE, 0, A_M | A_GRP),
    [0xf8] = E(OP_FLAG, 0, I_NONE, 0, 0),
    [0xf9] = E(OP_FLAG, 1, I_NONE, 0, 0),
    [0xfa] = E(OP_CLI, 0, I_NONE, 0, 0),
    [0xfb] = E(OP_STI, 0, I_NONE, 0, 0),
    [0xfc] = E(OP_FLAG, 3, I_NONE, 0, 0),
    [0xfd] = E(OP_FLAG, 4, I_NONE, 0, 0),
    [0xfe] = E(0, G4, I_NONE, 0, A_M | A_B | A_GRP),
    [0xff] = E(0, G5, I_NONE, 0, A_M | A_GRP),
};

/* One-byte opcodes whose meaning outside 64-bit mode differs (legacy_differs()). */
static const struct opd one_byte_legacy[256] = {
    [0x06] = E(OP_PUSHSEG, X86_SEG_ES, I_NONE, 0, 0),
    [0x07] = E(OP_POPSEG, X86_SEG_ES, I_NONE, 0, 0),
    [0x0e] = E(OP_PUSHSEG, X86_SEG_CS, I_NONE, 0, 0),
    [0x16] = E(OP_PUSHSEG, X86_SEG_SS, I_NONE, 0, 0),
    [0x17] = E(OP_POPSEG, X86_SEG_SS, I_NONE, 0, 0),
    [0x1e] = E(OP_PUSHSEG, X86_SEG_DS, I_NONE, 0, 0),
    [0x1f] = E(OP_POPSEG, X86_SEG_DS, I_NONE, 0, 0),
    [0x27] = E(OP_BCD, 0, I_NONE, 0, A_B),
    [0x2f] = E(OP_BCD, 1, I_NONE, 0, A_B),
    [0x37] = E(OP_BCD, 2, I_NONE, 0, A_B),
    [0x3f] = E(OP_BCD, 3, I_NONE, 0, A_B),
    R8(0x40, E(OP_INC, 0, I_NONE, X86_FORM_E, A_REGOP)),
    R8(0x48, E(OP_DEC, 0, I_NONE, X86_FORM_E, A_REGOP)),
    [0x60] = E(OP_PUSHA, 0, I_NONE, 0, 0),
    [0x61] = E(OP_POPA, 0, I_NONE, 0, 0),
    [0x62] = E(OP_BOUND, 0, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0x63] = E(OP_ARPL, 0, I_NONE, X86_FORM_EG, A_M),
    [0x82] = E(OP_ALU, 0, I_B, X86_FORM_EI, A_M | A_B | A_SUBREG | A_LOCK),
    [0x9a] = E(OP_CALLF, 0, I_FAR, 0, 0),
    [0xc4] = E(OP_LSEG, X86_SEG_ES, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0xc5] = E(OP_LSEG, X86_SEG_DS, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0xce] = E(OP_INTO, 0, I_NONE, 0, 0),
    [0xd4] = E(OP_BCD, 4, I_B, 0, A_B),
    [0xd5] = E(OP_BCD, 5, I_B, 0, A_B),
    [0xd6] = E(OP_SALC, 0, I_NONE, 0, A_B),
    [0xea] = E(OP_JMPF, 0, I_FAR, 0, 0),
};

static bool legacy_differs(unsigned b)
{
	switch (b) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61: case 0x62:
	case 0x63: case 0x82: case 0x9a: case 0xc4: case 0xc5: case 0xce: case 0xd4:
	case 0xd5: case 0xd6: case 0xea:
		return true;
	default:
		return b >= 0x40 && b <= 0x4f;
	}
}

#define NOPM E(OP_NOP, 0, I_NONE, X86_FORM_E, A_M)
#define SSEM E(OP_SSE, 0, I_NONE, 0, A_M | A_MEMONLY | A_SUBREG)

static const struct opd two_byte[256] = {
    [0x00] = E(OP_GRP6, 0, I_NONE, X86_FORM_E, A_M | A_SUBREG),
    [0x01] = E(OP_GRP7, 0, I_NONE, X86_FORM_E, A_M | A_SUBREG),
    [0x02] = E(OP_LAR, 0, I_NONE, X86_FORM_GE, A_M),
    [0x03] = E(OP_LSL, 0, I_NONE, X86_FORM_GE, A_M),
    [0x04] = UD,
    [0x05] = E(OP_UNIMPL, X86_UNIMPL_SYSCALL, I_NONE, 0, 0),
    [0x06] = E(OP_CLTS, 0, I_NONE, 0, 0),
    [0x07] = E(OP_SYSRET, 0, I_NONE, 0, 0),
    [0x08] = E(OP_CACHE, 0, I_NONE, 0, 0),
    [0x09] = E(OP_CACHE, 1, I_NONE, 0, 0),
    [0x0a] = UD,
    [0x0b] = E(OP_UD2, 0, I_NONE, 0, 0),
    [0x0c] = UD,
    [0x0d] = NOPM,
    [0x0e] = UD,
    [0x0f] = UD,
    [0x18] = NOPM,
    [0x19] = NOPM,
    [0x1a] = NOPM,
    [0x1b] = NOPM,
    [0x1c] = NOPM,
    [0x1d] = NOPM,
    [0x1e] = NOPM,
    [0x1f] = NOPM,
    [0x20] = E(OP_MOVCR, 0, I_NONE, 0, A_M | A_MREG),
    [0x21] = E(OP_MOVDR, 0, I_NONE, 0, A_M | A_MREG),
    [0x22] = E(OP_MOVCR, 1, I_NONE, 0, A_M | A_MREG),
    [0x23] = E(OP_MOVDR, 1, I_NONE, 0, A_M | A_MREG),
    [0x24] = UD,
    [0x25] = UD,
    [0x26] = UD,
    [0x27] = UD,
    [0x30] = E(OP_WRMSR, 0, I_NONE, 0, 0),
    [0x31] = E(OP_RDTSC, 0, I_NONE, 0, 0),
    [0x32] = E(OP_RDMSR, 0, I_NONE, 0, 0),
    [0x33] = E(OP_UNIMPL, X86_UNIMPL_RDPMC, I_NONE, 0, 0),
    [0x34] = E(OP_UNIMPL, X86_UNIMPL_SYSENTER, I_NONE, 0, 0),
    [0x35] = E(OP_SYSEXIT, 0, I_NONE, 0, 0),
    [0x36] = UD,
    [0x39] = UD,
    [0x3b] = UD,
    [0x3c] = UD,
    [0x3d] = UD,
    [0x3e] = UD,
    [0x3f] = UD,
    CC16(0x40, OP_CMOVCC, I_NONE, X86_FORM_GE, A_M),
    CC16(0x80, OP_JCC, I_Z, 0, A_F64),
    CC16(0x90, OP_SETCC, I_NONE, X86_FORM_E, A_M | A_B),
    [0xa0] = E(OP_PUSHSEG, X86_SEG_FS, I_NONE, 0, A_D64),
    [0xa1] = E(OP_POPSEG, X86_SEG_FS, I_NONE, 0, A_D64),
    [0xa2] = E(OP_CPUID, 0, I_NONE, 0, 0),
    [0xa3] = E(OP_BT, 0, I_NONE, X86_FORM_EG, A_M),
    [0xa4] = E(OP_SHLD, 0, I_B, X86_FORM_EG, A_M),
    [0xa5] = E(OP_SHLD, 1, I_NONE, X86_FORM_EG, A_M),
    [0xa6] = UD,
    [0xa7] = UD,
    [0xa8] = E(OP_PUSHSEG, X86_SEG_GS, I_NONE, 0, A_D64),
    [0xa9] = E(OP_POPSEG, X86_SEG_GS, I_NONE, 0, A_D64),
    [0xab] = E(OP_BT, 1, I_NONE, X86_FORM_EG, A_M | A_LOCK),
    [0xac] = E(OP_SHRD, 0, I_B, X86_FORM_EG, A_M),
    [0xad] = E(OP_SHRD, 1, I_NONE, X86_FORM_EG, A_M),
    [0xae] = E(0, G15, I_NONE, 0, A_M | A_GRP),
    [0xaf] = E(OP_IMUL2, 0, I_NONE, X86_FORM_GE, A_M),
    [0xb0] = E(OP_CMPXCHG, 0, I_NONE, X86_FORM_EG, A_M | A_B | A_LOCK),
    [0xb1] = E(OP_CMPXCHG, 0, I_NONE, X86_FORM_EG, A_M | A_LOCK),
    [0xb2] = E(OP_LSEG, X86_SEG_SS, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0xb3] = E(OP_BT, 2, I_NONE, X86_FORM_EG, A_M | A_LOCK),
    [0xb4] = E(OP_LSEG, X86_SEG_FS, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0xb5] = E(OP_LSEG, X86_SEG_GS, I_NONE, X86_FORM_GE, A_M | A_MEMONLY),
    [0xb6] = {.op = OP_MOVZX, .form = X86_FORM_GE, .a = A_M, .ssz = 1},
    [0xb7] = {.op = OP_MOVZX, .form = X86_FORM_GE, .a = A_M, .ssz = 2},
    [0xb8] = E(OP_POPCNT, 0, I_NONE, X86_FORM_GE, A_M), /* F3 only, see fixups */
    [0xb9] = E(OP_UD, 0, I_NONE, 0, A_M),
    [0xba] = E(0, G8, I_NONE, 0, A_M | A_GRP),
    [0xbb] = E(OP_BT, 3, I_NONE, X86_FORM_EG, A_M | A_LOCK),
    [0xbc] = E(OP_BSF, 0, I_NONE, X86_FORM_GE, A_M),
    [0xbd] = E(OP_BSR, 0, I_NONE, X86_FORM_GE, A_M),
    [0xbe] = {.op = OP_MOVSX, .form = X86_FORM_GE, .a = A_M, .ssz = 1},
    [0xbf] = {.op = OP_MOVSX, .form = X86_FORM_GE, .a = A_M, .ssz = 2},
    [0xc0] = E(OP_XADD, 0, I_NONE, X86_FORM_EG, A_M | A_B | A_LOCK),
    [0xc1] = E(OP_XADD, 0, I_NONE, X86_FORM_EG, A_M | A_LOCK),
    [0xc7] = E(0, G9, I_NONE, 0, A_M | A_GRP),
    R8(0xc8, E(OP_BSWAP, 0, I_NONE, X86_FORM_E, A_REGOP)),
    [0xff] = E(OP_UD, 0, I_NONE, 0, A_M),
};

/* Entries left zero in the tables above are OP_UD; these ranges are valid
 * SSE/MMX/system encodings this CPU does not execute yet. */
static bool two_byte_unimpl(unsigned b)
{
	return (b >= 0x10 && b <= 0x17) || (b >= 0x20 && b <= 0x23) || (b >= 0x28 && b <= 0x35) ||
	       b == 0x37 || (b >= 0x50 && b <= 0x7f) || (b >= 0xa0 && b <= 0xa1) ||
	       (b >= 0xa8 && b <= 0xaa) || b == 0xb2 || (b >= 0xb4 && b <= 0xb5) ||
	       (b >= 0xc2 && b <= 0xc6) || (b >= 0xd0 && b <= 0xfe);
}

/*
 * The 0F opcodes the SSE/MMX unit (exec_sse.c) decodes further by mandatory
 * prefix; 0F C3 (MOVNTI) and 0F 77 (EMMS) included.
 */
static bool sse_opcode(unsigned b)
{
	return (b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) ||
	       (b >= 0xc2 && b <= 0xc6) || (b >= 0xd0 && b <= 0xfe);
}

/* Those that carry an 8-bit immediate after ModRM. */
static bool sse_imm8(unsigned b)
{
	return (b >= 0x70 && b <= 0x73) || b == 0xc2 || (b >= 0xc4 && b <= 0xc6);
}

static const struct opd groups[NR_GROUPS][8] = {
    [G1A] = {E(OP_POP, 0, I_NONE, X86_FORM_E, 0), UD, UD, UD, UD, UD, UD, UD},
    [G3] = {E(OP_TEST, 0, I_Z, X86_FORM_EI, 0), E(OP_TEST, 0, I_Z, X86_FORM_EI, 0),
	    E(OP_NOT, 0, I_NONE, X86_FORM_E, A_LOCK), E(OP_NEG, 0, I_NONE, X86_FORM_E, A_LOCK),
	    E(OP_MUL, 0, I_NONE, X86_FORM_E, 0), E(OP_IMUL1, 0, I_NONE, X86_FORM_E, 0),
	    E(OP_DIV, 0, I_NONE, X86_FORM_E, 0), E(OP_IDIV, 0, I_NONE, X86_FORM_E, 0)},
    [G4] = {E(OP_INC, 0, I_NONE, X86_FORM_E, A_LOCK), E(OP_DEC, 0, I_NONE, X86_FORM_E, A_LOCK), UD,
	    UD, UD, UD, UD, UD},
    [G5] = {E(OP_INC, 0, I_NONE, X86_FORM_E, A_LOCK), E(OP_DEC, 0, I_NONE, X86_FORM_E, A_LOCK),
	    E(OP_CALLI, 0, I_NONE, X86_FORM_E, A_F64),
	    E(OP_CALLFI, 0, I_NONE, X86_FORM_E, A_MEMONLY), E(OP_JMPI, 0, I_NONE, X86_FORM_E, A_F64),
	    E(OP_JMPFI, 0, I_NONE, X86_FORM_E, A_MEMONLY), E(OP_PUSH, 0, I_NONE, X86_FORM_E, A_D64),
	    UD},
    [G8] = {UD, UD, UD, UD, E(OP_BT, 0, I_B, X86_FORM_EI, 0), E(OP_BT, 1, I_B, X86_FORM_EI, A_LOCK),
	    E(OP_BT, 2, I_B, X86_FORM_EI, A_LOCK), E(OP_BT, 3, I_B, X86_FORM_EI, A_LOCK)},
    /* /3 /4 /5: XRSTORS, XSAVEC, XSAVES; /6 /7: RDRAND/RDSEED/RDPID, VMPTRLD/ST. */
    [G9] = {UD, E(OP_CMPXCHG2X, 0, I_NONE, X86_FORM_E, A_LOCK | A_MEMONLY), UD, UNI, UNI, UNI, UNI,
	    UNI},
    [G11] = {E(OP_MOV, 0, I_Z, X86_FORM_EI, 0), UD, UD, UD, UD, UD, UD, UD},
    /* /0-/3: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR (memory forms) go to the SSE unit. */
    [G15] = {SSEM, SSEM, SSEM, SSEM, UNI, UNI, UNI, E(OP_CLFLUSH, 0, I_NONE, X86_FORM_E, A_MEMONLY)},
};

struct cursor {
	const uint8_t *b;
	unsigned pos, avail;
	int status; /* 0, -EAGAIN, or 1 when past 15 bytes */
};

static uint64_t take(struct cursor *c, unsigned n)
{
	uint64_t v = 0;

	if (c->status)
		return 0;
	if (c->pos + n > X86_INSN_MAX_LEN) {
		c->status = 1;
		return 0;
	}
	if (c->pos + n > c->avail) {
		c->status = -EAGAIN;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->b[c->pos + i] << (8 * i);
	c->pos += n;
	return v;
}

static uint64_t sext(uint64_t v, unsigned bytes)
{
	unsigned sh = 64 - 8 * bytes;

	return (uint64_t)((int64_t)(v << sh) >> sh);
}

struct prefixes {
	unsigned rex; /* 0 or 0x40..0x4f */
	bool opsz, adsz, lock;
	uint8_t rep; /* 0, 0xf2, 0xf3 */
	int seg;     /* -1 or enum x86_seg */
};

static void read_prefixes(struct cursor *c, struct prefixes *p, bool m64)
{
	memset(p, 0, sizeof(*p));
	p->seg = -1;
	for (;;) {
		if (c->pos >= c->avail) {
			take(c, 1); /* sets status */
			return;
		}
		uint8_t b = c->b[c->pos];

		if ((b & 0xf0) == 0x40 && m64) {
			p->rex = b;
			c->pos++;
			continue;
		}
		switch (b) {
		case 0x66:
			p->opsz = true;
			break;
		case 0x67:
			p->adsz = true;
			break;
		case 0xf0:
			p->lock = true;
			break;
		case 0xf2:
		case 0xf3:
			p->rep = b;
			break;
		case 0x64:
			p->seg = X86_SEG_FS;
			break;
		case 0x65:
			p->seg = X86_SEG_GS;
			break;
		/* CS/DS/ES/SS overrides have no effect in 64-bit mode. */
		case 0x26:
		case 0x2e:
		case 0x36:
		case 0x3e:
			if (!m64)
				p->seg = (b >> 3) & 3;
			break;
		default:
			return;
		}
		/* A REX is only honoured right before the opcode. */
		p->rex = 0;
		c->pos++;
		if (c->pos >= X86_INSN_MAX_LEN) {
			c->status = 1;
			return;
		}
	}
}

static uint8_t byte_reg(unsigned r, bool rex)
{
	return (!rex && r >= 4 && r < 8) ? X86_REG_HIGH8 + (r - 4) : r;
}

/* 16-bit addressing: [BX+SI], [BX+DI], [BP+SI], [BP+DI], [SI], [DI], [BP], [BX]. */
static void decode_modrm16(struct cursor *c, unsigned mod, unsigned rm, struct x86_insn *in)
{
	static const uint8_t base[8] = {X86_RBX, X86_RBX, X86_RBP, X86_RBP,
					X86_RSI, X86_RDI, X86_RBP, X86_RBX};
	static const uint8_t index[8] = {X86_RSI, X86_RDI, X86_RSI, X86_RDI, X86_REG_NONE,
					 X86_REG_NONE, X86_REG_NONE, X86_REG_NONE};

	in->flags |= X86_F_MEM;
	in->base = base[rm];
	in->index = index[rm];
	if (mod == 0 && rm == 6) {
		in->base = X86_REG_NONE;
		in->disp = (int32_t)take(c, 2);
		return;
	}
	if (mod == 1)
		in->disp = (int32_t)sext(take(c, 1), 1);
	else if (mod == 2)
		in->disp = (int32_t)sext(take(c, 2), 2);
	if (in->base == X86_RBP)
		in->seg = X86_SEG_SS;
}

static void decode_modrm(struct cursor *c, const struct prefixes *p, uint8_t modrm,
			 struct x86_insn *in, bool m64)
{
	unsigned mod = modrm >> 6, rm = modrm & 7;
	unsigned rexb = (p->rex & 1) << 3, rexx = (p->rex & 2) << 2;

	if (mod == 3) {
		in->rm = rm | rexb;
		return;
	}
	if (in->asz == 2) {
		decode_modrm16(c, mod, rm, in);
		return;
	}
	in->flags |= X86_F_MEM;
	in->base = rm | rexb;
	if (rm == 4) {
		uint8_t sib = take(c, 1);
		unsigned idx = ((sib >> 3) & 7) | rexx;

		in->scale = sib >> 6;
		in->index = idx == 4 ? X86_REG_NONE : idx;
		in->base = (sib & 7) | rexb;
		if ((sib & 7) == 5 && mod == 0)
			in->base = X86_REG_NONE;
	} else if (rm == 5 && mod == 0) {
		in->base = X86_REG_NONE;
		if (m64)
			in->flags |= X86_F_RIPREL;
	}
	if (mod == 1)
		in->disp = (int32_t)sext(take(c, 1), 1);
	else if (mod == 2 || in->base == X86_REG_NONE)
		in->disp = (int32_t)take(c, 4);
	if (in->base == X86_RSP || in->base == X86_RBP)
		in->seg = X86_SEG_SS;
}

static unsigned imm_bytes(unsigned kind, const struct x86_insn *in)
{
	switch (kind) {
	case I_B:
		return 1;
	case I_W:
		return 2;
	case I_Z:
		return in->osz == 1 ? 1 : in->osz == 2 ? 2 : 4;
	case I_V:
		return in->osz;
	case I_MOFFS:
		return in->asz;
	case I_WB:
		return 2;
	case I_FAR:
		return in->osz == 2 ? 2 : 4;
	default:
		return 0;
	}
}

/* Encodings whose meaning depends on a mandatory prefix or REX. */
static void fixup(const struct prefixes *p, unsigned map, unsigned opc, struct opd *d)
{
	/* F3 90 is PAUSE even with REX.B. */
	if (map == 0 && opc == 0x90 && (!(p->rex & 1) || p->rep == 0xf3)) {
		d->op = OP_NOP; /* also PAUSE with F3 */
		d->form = 0;
	}
	if (map == 1 && opc == 0xb8 && p->rep != 0xf3)
		d->op = OP_UD;
	if (map == 1 && opc == 0xbc && p->rep == 0xf3)
		d->op = OP_TZCNT;
	if (map == 1 && opc == 0xbd && p->rep == 0xf3)
		d->op = OP_LZCNT;
}

static void decode_0f38(struct cursor *c, const struct prefixes *p, struct opd *d,
			unsigned *opc)
{
	uint8_t b = take(c, 1);

	*opc = b;
	*d = (struct opd)E(OP_SSE, 0, I_NONE, 0, A_M);
	if ((b == 0xf0 || b == 0xf1) && p->rep != 0xf2) {
		d->op = OP_MOVBE;
		d->form = b == 0xf0 ? X86_FORM_GE : X86_FORM_EG;
		d->a = A_M | A_MEMONLY;
	}
}

static void apply_group(const struct cursor *c, const struct prefixes *p, struct opd *d)
{
	uint8_t modrm = c->b[c->pos];
	unsigned grp = d->sub, r = (modrm >> 3) & 7;
	uint16_t keep = d->a & (A_B | A_M | A_D64);

	*d = groups[grp][r];
	d->a |= keep;
	/* 0F AE: unprefixed register forms /5 /6 /7 are the fences. */
	if (grp == G15 && r >= 5 && (modrm >> 6) == 3 && !p->rep && !p->opsz)
		*d = (struct opd)E(OP_NOP, 0, I_NONE, 0, A_M);
	/* 66 0F AE /7 is CLFLUSHOPT, F3 forms are other extensions: not executed. */
	if (grp == G15 && r == 7 && (modrm >> 6) != 3 && (p->rep || p->opsz))
		*d = (struct opd)UNI;
	/*
	 * C6 F8 / C7 F8: XABORT/XBEGIN. Without RTM they are #UD, but hosts
	 * with TSX force-disabled execute XBEGIN as an abort: leave them out.
	 */
	if (grp == G11 && modrm == 0xf8)
		*d = (struct opd)UNI;
	/* The invalid C6/C7 forms still count their immediate towards the 15-byte limit. */
	if (grp == G11)
		d->imm = I_Z;
}

static int finish(struct cursor *c, struct x86_insn *in)
{
	if (c->status == -EAGAIN)
		return -EAGAIN;
	if (c->status == 1) {
		memset(in, 0, sizeof(*in));
		in->op = OP_TOOLONG;
		in->len = X86_INSN_MAX_LEN;
		return 0;
	}
	in->len = c->pos;
	return 0;
}

int x86_decode(const uint8_t *bytes, unsigned avail, enum x86_mode mode, struct x86_insn *in)
{
	struct cursor c = {.b = bytes, .avail = avail};
	struct prefixes p;
	struct opd d;
	unsigned map = 0, opc;
	bool rexw, lock_ok, m64 = mode == X86_MODE_64;
	unsigned def = mode == X86_MODE_16 ? 2 : 4;

	memset(in, 0, sizeof(*in));
	in->base = in->index = X86_REG_NONE;
	in->seg = X86_SEG_DS;
	read_prefixes(&c, &p, m64);
	in->opc_at = (uint8_t)c.pos;
	opc = take(&c, 1);
	if (c.status)
		return finish(&c, in);
	if (opc == 0x0f) {
		map = 1;
		opc = take(&c, 1);
		if (c.status)
			return finish(&c, in);
		if (opc == 0x38) {
			decode_0f38(&c, &p, &d, &opc);
			map = 2;
		} else if (opc == 0x3a) {
			opc = take(&c, 1);
			d = (struct opd)E(OP_SSE, 0, I_B, 0, A_M);
			map = 3;
		} else if (sse_opcode(opc)) {
			d = (struct opd)E(OP_SSE, 0, sse_imm8(opc) ? I_B : I_NONE, 0,
					  opc == 0x77 ? 0 : A_M);
		} else {
			d = two_byte[opc];
			if (d.op == OP_UD && d.a == 0 && two_byte_unimpl(opc))
				d = (struct opd)UNI;
		}
	} else if (!m64 && legacy_differs(opc)) {
		d = one_byte_legacy[opc];
		/* C4/C5 with a register operand are VEX prefixes there too. */
		if ((opc == 0xc4 || opc == 0xc5) && c.pos < c.avail && (c.b[c.pos] >> 6) == 3)
			d = (struct opd)UNI;
	} else {
		d = one_byte[opc];
	}
	if (c.status)
		return finish(&c, in);
	if ((d.a & A_M) && c.pos >= c.avail) {
		take(&c, 1);
		return finish(&c, in);
	}
	if (d.a & A_GRP)
		apply_group(&c, &p, &d);
	fixup(&p, map, opc, &d);

	rexw = p.rex & 8;
	if (p.rex)
		in->flags |= X86_F_REX;
	if (p.opsz)
		in->flags |= X86_F_OSZ16;
	if (p.rep == 0xf3)
		in->flags |= X86_F_REP;
	else if (p.rep == 0xf2)
		in->flags |= X86_F_REPNE;
	if (p.lock)
		in->flags |= X86_F_LOCK;
	if (p.seg >= 0)
		in->flags |= X86_F_SEG_OVR;
	in->op = d.op;
	in->sub = d.sub;
	in->map = (uint8_t)map;
	in->opc = (uint8_t)opc;
	in->form = d.form;
	if (!m64) {
		/* 66 and 67 toggle between the 16- and 32-bit defaults. */
		in->asz = p.adsz ? 6 - def : def;
		in->osz = (d.a & A_B) ? 1 : p.opsz ? 6 - def : def;
		if (d.op == OP_ARPL)
			in->osz = 2;
	} else {
		in->asz = p.adsz ? 4 : 8;
		if (d.a & A_B)
			in->osz = 1;
		else if (d.a & A_F64)
			in->osz = 8;
		else if (d.a & A_D64)
			in->osz = (p.opsz && !rexw) ? 2 : 8;
		else
			in->osz = rexw ? 8 : p.opsz ? 2 : 4;
	}
	if (d.a & A_MREG)
		in->osz = m64 ? 8 : 4;
	in->ssz = d.ssz ? (d.ssz < in->osz ? d.ssz : in->osz) : in->osz;

	if (d.a & A_M) {
		uint8_t modrm;

		in->modrm_at = (uint8_t)c.pos;
		modrm = take(&c, 1);

		if (d.a & A_SUBREG)
			in->sub = (modrm >> 3) & 7;
		in->reg = ((modrm >> 3) & 7) | ((p.rex & 4) << 1);
		if (d.a & A_MREG)
			in->rm = (modrm & 7) | ((p.rex & 1) << 3);
		else
			decode_modrm(&c, &p, modrm, in, m64);
		if ((d.a & A_MEMONLY) && !(in->flags & X86_F_MEM))
			in->op = OP_UD;
	}
	if (d.op == OP_SHIFT) {
		if (opc == 0xd0 || opc == 0xd1)
			in->flags |= X86_F_IMM_ONE;
		else if (opc == 0xd2 || opc == 0xd3)
			in->flags |= X86_F_IMM_CL;
	}
	if ((d.op == OP_SHLD || d.op == OP_SHRD) && d.sub == 1)
		in->flags |= X86_F_IMM_CL;
	if ((d.op == OP_IN || d.op == OP_OUT) && d.sub == 1)
		in->flags |= X86_F_IMM_CL;
	if (d.a & A_REGOP)
		in->rm = (opc & 7) | ((p.rex & 1) << 3);
	if (d.a & A_ACC)
		in->rm = X86_RAX;
	if (d.a & A_MOFFS) {
		in->flags |= X86_F_MEM;
		in->reg = X86_RAX;
	}
	if (p.seg >= 0)
		in->seg = p.seg;
	if (in->osz == 1) {
		in->reg = byte_reg(in->reg, p.rex);
		if (!(in->flags & X86_F_MEM))
			in->rm = byte_reg(in->rm, p.rex);
	} else if (in->ssz == 1 && !(in->flags & X86_F_MEM)) {
		in->rm = byte_reg(in->rm, p.rex);
	}

	in->imm_at = (uint8_t)c.pos;
	switch (d.imm) {
	case I_NONE:
		break;
	case I_W:
		in->imm = take(&c, 2);
		break;
	case I_WB:
		in->imm = take(&c, 2);
		in->imm2 = take(&c, 1);
		break;
	case I_MOFFS:
		in->imm = take(&c, in->asz);
		break;
	case I_FAR:
		in->imm = take(&c, imm_bytes(d.imm, in));
		in->imm2 = take(&c, 2);
		break;
	default: {
		unsigned n = imm_bytes(d.imm, in);

		in->imm = sext(take(&c, n), n);
		break;
	}
	}
	if (d.a & A_MOFFS)
		in->flags |= X86_F_MOFFS;

	lock_ok = (d.a & A_LOCK) && (in->flags & X86_F_MEM) && !(d.op == OP_ALU && in->sub == 7);
	if (p.lock && !lock_ok && in->op != OP_UNIMPL)
		in->op = OP_UD;
	return finish(&c, in);
}

uint32_t x86_insn_undefined_flags(const struct x86_insn *in)
{
	const uint32_t szap = X86_RFLAGS_SF | X86_RFLAGS_ZF | X86_RFLAGS_AF | X86_RFLAGS_PF;
	const uint32_t arith = szap | X86_RFLAGS_CF | X86_RFLAGS_OF;

	switch (in->op) {
	case OP_ALU:
		return (in->sub == 1 || in->sub == 4 || in->sub == 6) ? X86_RFLAGS_AF : 0;
	case OP_TEST:
		return X86_RFLAGS_AF;
	case OP_MUL:
	case OP_IMUL1:
	case OP_IMUL2:
	case OP_IMUL3:
		return szap;
	case OP_DIV:
	case OP_IDIV:
		return arith;
	case OP_SHIFT:
		return in->sub < 4 ? X86_RFLAGS_OF : X86_RFLAGS_OF | X86_RFLAGS_AF;
	case OP_SHLD:
	case OP_SHRD:
		/* A 16-bit count above 16 leaves result and flags undefined. */
		return in->osz == 2 ? arith : X86_RFLAGS_OF | X86_RFLAGS_AF;
	case OP_BT:
		return X86_RFLAGS_OF | X86_RFLAGS_SF | X86_RFLAGS_AF | X86_RFLAGS_PF;
	case OP_BSF:
	case OP_BSR:
		return arith & ~X86_RFLAGS_ZF;
	case OP_TZCNT:
	case OP_LZCNT:
		return X86_RFLAGS_OF | X86_RFLAGS_SF | X86_RFLAGS_AF | X86_RFLAGS_PF;
	default:
		return 0;
	}
}

static const char *const op_names[OP_NR] = {
    [OP_UD] = "ud",
    [OP_UNIMPL] = "unimpl",
    [OP_TOOLONG] = "toolong",
    [OP_ALU] = "alu",
    [OP_TEST] = "test",
    [OP_INC] = "inc",
    [OP_DEC] = "dec",
    [OP_NOT] = "not",
    [OP_NEG] = "neg",
    [OP_MUL] = "mul",
    [OP_IMUL1] = "imul1",
    [OP_IMUL2] = "imul2",
    [OP_IMUL3] = "imul3",
    [OP_DIV] = "div",
    [OP_IDIV] = "idiv",
    [OP_SHIFT] = "shift",
    [OP_SHLD] = "shld",
    [OP_SHRD] = "shrd",
    [OP_MOV] = "mov",
    [OP_MOVZX] = "movzx",
    [OP_MOVSX] = "movsx",
    [OP_LEA] = "lea",
    [OP_XCHG] = "xchg",
    [OP_NOP] = "nop",
    [OP_PUSH] = "push",
    [OP_POP] = "pop",
    [OP_PUSHF] = "pushf",
    [OP_POPF] = "popf",
    [OP_ENTER] = "enter",
    [OP_LEAVE] = "leave",
    [OP_JCC] = "jcc",
    [OP_JMP] = "jmp",
    [OP_CALL] = "call",
    [OP_JMPI] = "jmpi",
    [OP_CALLI] = "calli",
    [OP_RET] = "ret",
    [OP_LOOP] = "loop",
    [OP_SETCC] = "setcc",
    [OP_CMOVCC] = "cmovcc",
    [OP_CBW] = "cbw",
    [OP_CWD] = "cwd",
    [OP_BSWAP] = "bswap",
    [OP_BT] = "bt",
    [OP_BSF] = "bsf",
    [OP_BSR] = "bsr",
    [OP_TZCNT] = "tzcnt",
    [OP_LZCNT] = "lzcnt",
    [OP_POPCNT] = "popcnt",
    [OP_MOVS] = "movs",
    [OP_STOS] = "stos",
    [OP_LODS] = "lods",
    [OP_CMPS] = "cmps",
    [OP_SCAS] = "scas",
    [OP_INS] = "ins",
    [OP_OUTS] = "outs",
    [OP_IN] = "in",
    [OP_OUT] = "out",
    [OP_CMPXCHG] = "cmpxchg",
    [OP_CMPXCHG2X] = "cmpxchg8b/16b",
    [OP_XADD] = "xadd",
    [OP_FLAG] = "flagop",
    [OP_CLI] = "cli",
    [OP_STI] = "sti",
    [OP_LAHF] = "lahf",
    [OP_SAHF] = "sahf",
    [OP_XLAT] = "xlat",
    [OP_CPUID] = "cpuid",
    [OP_RDTSC] = "rdtsc",
    [OP_MOVBE] = "movbe",
    [OP_HLT] = "hlt",
    [OP_INT3] = "int3",
    [OP_ICEBP] = "int1",
    [OP_INT] = "int",
    [OP_UD2] = "ud2",
    [OP_SSE] = "sse",
    [OP_X87] = "x87",
    [OP_PUSHSEG] = "pushseg",
    [OP_POPSEG] = "popseg",
    [OP_MOVSEG_LD] = "mov-sreg",
    [OP_MOVSEG_ST] = "mov-from-sreg",
    [OP_LSEG] = "lseg",
    [OP_PUSHA] = "pusha",
    [OP_POPA] = "popa",
    [OP_BOUND] = "bound",
    [OP_ARPL] = "arpl",
    [OP_BCD] = "bcd",
    [OP_INTO] = "into",
    [OP_SALC] = "salc",
    [OP_JMPF] = "jmpf",
    [OP_CALLF] = "callf",
    [OP_JMPFI] = "jmpfi",
    [OP_CALLFI] = "callfi",
    [OP_RETF] = "retf",
    [OP_IRET] = "iret",
    [OP_GRP6] = "grp6",
    [OP_GRP7] = "grp7",
    [OP_LAR] = "lar",
    [OP_LSL] = "lsl",
    [OP_CLTS] = "clts",
    [OP_MOVCR] = "movcr",
    [OP_MOVDR] = "movdr",
    [OP_RDMSR] = "rdmsr",
    [OP_WRMSR] = "wrmsr",
    [OP_SYSRET] = "sysret",
    [OP_SYSEXIT] = "sysexit",
    [OP_CACHE] = "invd/wbinvd",
    [OP_CLFLUSH] = "clflush",
};

const char *x86_op_name(unsigned op)
{
	return op < OP_NR && op_names[op] ? op_names[op] : "?";
}
