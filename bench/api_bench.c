/*
 * bench/api_bench.c: the API's figures for bench/run.sh, measured from a client's side.
 *
 *   api_bench startup SOCK KITE ARGS...  time from exec to the socket answering
 *                                        (wall and kite's CPU ms), then kills kite
 *   api_bench latency SOCK N             N pairs of GET / and PATCH /vm (Paused and
 *                                        Resumed in turn) on one connection: p50/p99
 *   api_bench first-byte SOCK FILE       InstanceStart, then the time until FILE (the
 *                                        guest's console) holds a byte
 *
 * Not part of kite: a measuring tool, so it prints and exits non-zero on any error.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static size_t discard(char *data, size_t size, size_t n, void *opaque)
{
	(void)data;
	(void)opaque;
	return size * n;
}

/* One request on the shared handle; returns the status, 0 on a transport error. */
static long request(CURL *curl, const char *method, const char *url, const char *body)
{
	char full[256];
	long status = 0;

	snprintf(full, sizeof(full), "http://localhost%s", url);
	curl_easy_setopt(curl, CURLOPT_URL, full);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
	}
	if (curl_easy_perform(curl) != CURLE_OK)
		return 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static CURL *client(const char *sock)
{
	static struct curl_slist *headers;
	CURL *curl = curl_easy_init();

	if (!curl)
		return NULL;
	if (!headers)
		headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	return curl;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(size_t)(p * (double)(n - 1))];
}

static int latency(const char *sock, long n)
{
	double *get = calloc((size_t)n, sizeof(double)), *patch = calloc((size_t)n, sizeof(double));
	CURL *curl = client(sock);

	if (!curl || !get || !patch || n < 1)
		return 1;
	for (long i = 0; i < n; i++) {
		const char *state = i % 2 ? "{\"state\": \"Resumed\"}" : "{\"state\": \"Paused\"}";
		double t0 = now_us();

		if (request(curl, "GET", "/", NULL) != 200) {
			fprintf(stderr, "api_bench: GET / failed at %ld\n", i);
			return 1;
		}
		get[i] = now_us() - t0;
		t0 = now_us();
		if (request(curl, "PATCH", "/vm", state) != 204) {
			fprintf(stderr, "api_bench: PATCH /vm failed at %ld\n", i);
			return 1;
		}
		patch[i] = now_us() - t0;
	}
	if (n % 2)
		request(curl, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	printf("GET / p50 %.1f us p99 %.1f us; PATCH /vm p50 %.1f us p99 %.1f us (%ld pairs)\n",
	       percentile(get, (size_t)n, 0.5), percentile(get, (size_t)n, 0.99),
	       percentile(patch, (size_t)n, 0.5), percentile(patch, (size_t)n, 0.99), n);
	curl_easy_cleanup(curl);
	return 0;
}

static bool socket_answers(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* CPU time of all of pid's threads so far, in ms (schedstat: nanoseconds, not 10 ms ticks). */
static double cpu_ms(pid_t pid)
{
	char path[64];
	double total = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		unsigned long long ns;
		char file[320];
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/schedstat", (int)pid, d->d_name);
		f = fopen(file, "r");
		if (f && fscanf(f, "%llu", &ns) == 1)
			total += (double)ns / 1e6;
		if (f)
			fclose(f);
	}
	closedir(dir);
	return total;
}

static int startup(const char *sock, char **argv)
{
	double t0 = now_us();
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		int null = open("/dev/null", 0);

		dup2(null, 0);
		dup2(null, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	while (!socket_answers(sock)) {
		if (waitpid(pid, NULL, WNOHANG) == pid || now_us() - t0 > 10e6) {
			fprintf(stderr, "api_bench: kite never served %s\n", sock);
			return 1;
		}
		usleep(50);
	}
	printf("socket after %.2f ms wall, %.2f ms CPU\n", (now_us() - t0) / 1e3, cpu_ms(pid));
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}

static int first_byte(const char *sock, const char *file)
{
	CURL *curl = client(sock);
	struct stat st;
	double t0;

	if (!curl)
		return 1;
	t0 = now_us();
	if (request(curl, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}") != 204) {
		fprintf(stderr, "api_bench: InstanceStart refused\n");
		return 1;
	}
	while (stat(file, &st) != 0 || st.st_size == 0) {
		if (now_us() - t0 > 30e6) {
			fprintf(stderr, "api_bench: no console output in 30 s\n");
			return 1;
		}
		usleep(20);
	}
	printf("first console byte %.2f ms after InstanceStart was sent\n", (now_us() - t0) / 1e3);
	curl_easy_cleanup(curl);
	return 0;
}

int main(int argc, char **argv)
{
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		return 1;
	if (argc >= 4 && !strcmp(argv[1], "startup"))
		return startup(argv[2], argv + 3);
	if (argc == 4 && !strcmp(argv[1], "latency"))
		return latency(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "first-byte"))
		return first_byte(argv[2], argv[3]);
	fprintf(stderr, "usage: api_bench startup SOCK KITE ARGS... | latency SOCK N | "
			"first-byte SOCK FILE\n");
	return 2;
}
