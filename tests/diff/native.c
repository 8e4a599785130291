/* tests/diff/native.c: runs test cases on the host CPU in a forked child, catching its exceptions.
 */
#include <asm/prctl.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "diff.h"

/* The child's only state the signal handler needs. */
static sigjmp_buf native_env;
static struct diff_result *volatile native_cur;

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	struct diff_result *r = native_cur;
	static const int map[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				    REG_RSI, REG_RDI, REG_R8,  REG_R9,	REG_R10, REG_R11,
				    REG_R12, REG_R13, REG_R14, REG_R15};

	/* The code under test may have set AC: no alignment checks in here. */
	__asm__ volatile("pushfq; andq $~0x40000, (%%rsp); popfq" ::: "memory", "cc");
	(void)sig;
	for (int i = 0; i < 16; i++)
		r->out.gpr[i] = g[map[i]];
	r->out.rip = g[REG_RIP];
	r->out.rflags = g[REG_EFL];
	r->vector = (int)g[REG_TRAPNO];
	r->error_code = g[REG_ERR];
	r->fault_addr = (uint64_t)si->si_addr;
	/* The signal frame's x87/SSE area starts with the FXSAVE image. */
	if (uc->uc_mcontext.fpregs)
		memcpy(r->fx, uc->uc_mcontext.fpregs, DIFF_FX_USED);
	siglongjmp(native_env, 1);
}

static int child_setup(void)
{
	static const int sigs[] = {SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
	struct sigaction sa;
	stack_t ss;
	void *p;

	/* Guard pages on both sides of the data area stay PROT_NONE. */
	p = mmap((void *)(DIFF_DATA_BASE - 0x1000), DIFF_DATA_SIZE + 0x2000, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)(DIFF_DATA_BASE - 0x1000))
		return -1;
	if (mprotect((void *)DIFF_DATA_BASE, DIFF_DATA_SIZE, PROT_READ | PROT_WRITE))
		return -1;
	p = mmap((void *)DIFF_CODE_BASE, DIFF_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)DIFF_CODE_BASE)
		return -1;
	/* GS-relative operands address the data area (glibc does not use GS). */
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, DIFF_DATA_BASE))
		return -1;
	ss.ss_sp = malloc(1 << 16);
	ss.ss_size = 1 << 16;
	ss.ss_flags = 0;
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			return -1;
	return 0;
}

static void child_run(const struct diff_case *cases, struct diff_result *res, unsigned n)
{
	uint8_t *code = (uint8_t *)DIFF_CODE_BASE;

	if (child_setup()) {
		perror("diff: native setup");
		_exit(2);
	}
	/* A runaway case must not hang CI. */
	alarm(30);
	for (unsigned i = 0; i < n; i++) {
		const struct diff_case *c = &cases[i];

		if (c->skip)
			continue;
		memset(code, 0xcc, DIFF_CODE_SIZE);
		memcpy(code + (DIFF_CODE_ENTRY - DIFF_CODE_BASE), c->code, c->code_len);
		diff_fill_data(c, (uint8_t *)DIFF_DATA_BASE);
		native_cur = &res[i];
		diff_target = DIFF_CODE_ENTRY;
		if (!sigsetjmp(native_env, 1))
			diff_enter(&c->in, c->fx);
		/*
		 * A POPF under test may have set AC (or TF); left on, the harness
		 * itself would fault on its next misaligned access.
		 */
		__asm__ volatile("pushfq; andq $~0x40500, (%%rsp); popfq" ::: "memory", "cc");
		memcpy(res[i].data, (void *)DIFF_DATA_BASE, DIFF_DATA_SIZE);
		res[i].done = true;
	}
	_exit(0);
}

int diff_run_native(const struct diff_case *cases, struct diff_result *res, unsigned n)
{
	int status;
	pid_t pid;

	for (unsigned i = 0; i < n; i++)
		res[i].done = false;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_run(cases, res, n);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unsigned i = 0;

		while (i < n && (cases[i].skip || res[i].done))
			i++;
		fprintf(stderr, "diff: native child died (status 0x%x)", status);
		if (i < n) {
			fprintf(stderr, " in a %s case, code", cases[i].group);
			for (unsigned k = 0; k < cases[i].code_len; k++)
				fprintf(stderr, " %02x", cases[i].code[k]);
		}
		fprintf(stderr, "\n");
		return -EIO;
	}
	return 0;
}
