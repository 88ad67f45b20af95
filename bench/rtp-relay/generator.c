/*
 * Native RTP load generator for bench/rtp-relay: a drop-in for generator.ts (same flags, same JSON-lines
 * protocol with run.ts, same "result" fields), built to keep its own cost and latency floor out of the
 * relay's numbers. C two-way calls = 2C one-way G.711 streams at 50 packets/s, 172-byte packets; call c
 * has two connected UDP sockets, 2c (party A, sends stream 2c to relay port a) and 2c+1 (party B, sends
 * stream 2c+1 to relay port b), each receiving what the relay forwards from the other party.
 *
 * What differs from generator.ts, and why:
 * - Receive time is the kernel's (SO_TIMESTAMPNS, stamped when the datagram enters the loopback receive
 *   path, i.e. in the sender's context), so the generator's own scheduling delay is not counted as relay
 *   latency. That clock is CLOCK_REALTIME, so send times are CLOCK_REALTIME too, read right before each
 *   send(). The packet layout is packet.ts's; only the clock of the float64 at offset 12 differs: ns since
 *   this process's CLOCK_REALTIME epoch (taken at start-up; relative, so a float64 holds it exactly).
 * - Sends follow the schedule (streams spread evenly over the 20 ms period) with wake-ups at most every
 *   --tick-ms (default 0.1 ms, not 1 ms; timer slack set to 1 ns): a 1 ms tick sends ~100 packets as one
 *   burst at 2,000 streams, which a relay then drains as queueing delay that real, independent streams
 *   would not cause (rtpengine at 2,000 streams: p50 0.32 ms with a 1 ms tick, 0.09 ms with 0.25 ms,
 *   0.05 ms with 0.1 ms). The price is generator CPU: a wake-up costs ~25 µs on a KVM guest, so 0.1 ms
 *   ticks add ~20% of a core over 1 ms ticks. Lateness (send time − due time) is reported as before.
 * - One thread does everything: sleep to the next wake-up (clock_nanosleep, absolute), send what is due,
 *   then read whatever has arrived on the ready sockets (epoll_wait with timeout 0, recvmmsg per socket).
 *   With kernel receive stamps a packet may wait in its socket until the next wake-up without changing
 *   its latency, so the generator wakes ~10,000 times/s instead of once per packet, and the relay never
 *   pays for waking it. The alternative, a second thread blocking in epoll_wait (both threads on the one
 *   generator CPU), measured worse (2-core KVM guest, 2,000 streams, tick 0.1 ms): `direct` had the same
 *   floor (p50 1 µs, p99 2 µs) at 55% CPU instead of 45%, and through rtpengine the relay needed 8.8
 *   instead of 7.4-7.7 µs/packet (it wakes the receive thread) with no better latency.
 * - elu is the fraction of the measured window not spent asleep in clock_nanosleep. Extra result fields:
 *   generator "c", tickMs, rxUserStamped (packets without a kernel stamp, stamped on reading instead;
 *   should be 0) and realtimeDriftUs (how far CLOCK_REALTIME moved against CLOCK_MONOTONIC during the run:
 *   an NTP step would show here).
 *
 * Bounded: it stops sending at warm-up + seconds (or 1 s later if starved), reports after --drain-ms,
 * and exits; it also exits when stdin closes (like generator.ts) or no "start" arrives within 60 s.
 * Usage: generator-c --calls 500 --seconds 20 --warmup 2 [--tick-ms 0.1] [--drain-ms 1000]
 * Build (run.ts does it): cc -std=gnu11 -O2 -Wall -Wextra -Werror -o generator-c generator.c -lm
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* packet.ts */
#define PACKET_BYTES 172
#define PAYLOAD_BYTES 160
#define OFF_SEND_NS 12
#define OFF_SEQ 20
#define OFF_STREAM 24
#define OFF_FLAGS 28
#define FLAG_MEASURED 1
#define PACKET_INTERVAL_NS 20000000LL

#define NS_PER_MS 1000000LL
/* How long after the measured window a lagging generator may keep catching up before it stops. */
#define LATE_STOP_NS (1000 * NS_PER_MS)
#define START_TIMEOUT_MS 60000
#define MAX_EVENTS 256
#define RECV_BATCH 8
#define STDIN_TAG UINT32_MAX

/** Fixed-bin histogram with histogram.ts's semantics. */
struct histogram {
	uint32_t *bins;
	size_t n;
	double width;
	uint64_t count;
	double sum;
	double max;
};

static long calls;
static long streams;
static double seconds, warmup_s, tick_ms, drain_ms;

static int *fds;
static uint8_t *packets; /* streams × PACKET_BYTES, one preallocated packet per stream */
static int64_t *phase_ns;
static uint32_t *next_seq, *sent_measured, *received;
static int64_t *max_seq;
static struct histogram latency_us, late_ms;
static uint64_t reordered, duplicates, foreign, unmeasured, socket_errors, rx_user_stamped;

static int epfd = -1;
static int64_t epoch_real_ns;     /* CLOCK_REALTIME at start-up: send stamps and receive stamps are relative to it */
static int64_t real_minus_mono_ns; /* converts a realtime stamp back to the monotonic schedule (lateness) */

/* the schedule and the measured window */
static int64_t t0, measure_from, measure_to;
static int64_t round_no;
static long stream_at;
static bool measuring;
static int64_t slept_ns;
static struct {
	int64_t cpu_us, at_ns, slept_ns;
} win_start, win_end;

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static void emit_raw(const char *line)
{
	fputs(line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

/** Reports {"type":"error"} (run.ts turns it into an exception) and exits 1. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *format, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, format);
	vsnprintf(message, sizeof message, format, ap);
	va_end(ap);
	printf("{\"type\":\"error\",\"message\":\"");
	for (const char *c = message; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			putchar('\\');
		putchar((unsigned char)*c < 0x20 ? ' ' : *c);
	}
	printf("\"}\n");
	fflush(stdout);
	fprintf(stderr, "generator-c: %s\n", message);
	exit(1);
}

static void *alloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL)
		fail("out of memory");
	return p;
}

static void hist_init(struct histogram *h, size_t bins, double width)
{
	h->bins = alloc(bins, sizeof *h->bins);
	h->n = bins;
	h->width = width;
}

/** Records one value (negative counts as 0; beyond the last bin lands in it, max stays exact). */
static void hist_record(struct histogram *h, double value)
{
	double v = value > 0 ? value : 0;
	double bin = floor(v / h->width);
	h->bins[bin < (double)(h->n - 1) ? (size_t)bin : h->n - 1]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

/** The q-quantile as the upper edge of its bin (never above max); 0 when empty. */
static double hist_quantile(const struct histogram *h, double q)
{
	if (h->count == 0)
		return 0;
	double rank = ceil(q * (double)h->count);
	uint64_t seen = 0;
	for (size_t i = 0; i < h->n; i++) {
		seen += h->bins[i];
		if ((double)seen >= rank)
			return fmin(h->max, (double)(i + 1) * h->width);
	}
	return h->max;
}

static double hist_mean(const struct histogram *h)
{
	return h->count == 0 ? 0 : h->sum / (double)h->count;
}

/** generator.ts's numberArg: `--name value`, the fallback when absent or not a finite number. */
static double number_arg(int argc, char **argv, const char *name, double fallback)
{
	for (int i = 1; i + 1 < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i] + 2, name) != 0)
			continue;
		char *end;
		double v = strtod(argv[i + 1], &end);
		return end != argv[i + 1] && *end == '\0' && isfinite(v) ? v : fallback;
	}
	return fallback;
}

static void raise_nofile(long needed)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur >= (rlim_t)needed)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)needed)
		fail("need %ld file descriptors, hard RLIMIT_NOFILE is %lu (raise it: ulimit -Hn)", needed,
		     (unsigned long)rl.rlim_max);
	rl.rlim_cur = (rlim_t)needed;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		fail("setrlimit RLIMIT_NOFILE %ld: %s", needed, strerror(errno));
}

static void put_u32le(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get_u32le(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

/** packet.ts createPacket: version 2, PCMU, SSRC = stream + 1, µ-law silence payload. */
static void create_packet(uint8_t *p, uint32_t stream)
{
	memset(p, 0xff, PACKET_BYTES);
	memset(p, 0, 12);
	p[0] = 0x80;
	uint32_t ssrc = htobe32(stream + 1);
	memcpy(p + 8, &ssrc, 4);
	put_u32le(p + OFF_STREAM, stream);
}

/** Binds one socket per party on 127.0.0.1 (kernel-chosen port) with kernel receive timestamps. */
static void bind_all(void)
{
	raise_nofile(streams + 64);
	int on = 1;
	for (long i = 0; i < streams; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fail("socket: %s", strerror(errno));
		struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
			fail("bind: %s", strerror(errno));
		if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
			fail("SO_TIMESTAMPNS: %s", strerror(errno));
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
			fail("epoll_ctl: %s", strerror(errno));
		fds[i] = fd;
		create_packet(packets + (size_t)i * PACKET_BYTES, (uint32_t)i);
		phase_ns[i] = (int64_t)i * PACKET_INTERVAL_NS / streams;
		max_seq[i] = -1;
	}
}

static int port_of(long i)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof addr;
	if (getsockname(fds[i], (struct sockaddr *)&addr, &len) != 0)
		fail("getsockname: %s", strerror(errno));
	return ntohs(addr.sin_port);
}

static void emit_ports(void)
{
	size_t cap = 64 + (size_t)calls * 16, len = 0;
	char *line = alloc(cap, 1);
	len += (size_t)snprintf(line + len, cap - len, "{\"type\":\"ports\",\"ports\":[");
	for (long c = 0; c < calls; c++)
		len += (size_t)snprintf(line + len, cap - len, "%s[%d,%d]", c == 0 ? "" : ",", port_of(2 * c),
					port_of(2 * c + 1));
	snprintf(line + len, cap - len, "]}");
	emit_raw(line);
	free(line);
}

/** Reads the one command line, {"cmd":"start","targets":[[a,b],...]}, within START_TIMEOUT_MS. */
static char *read_start_line(void)
{
	size_t cap = 4096, len = 0;
	char *line = alloc(cap, 1);
	int64_t deadline = clock_ns(CLOCK_MONOTONIC) + START_TIMEOUT_MS * NS_PER_MS;
	for (;;) {
		char *nl = memchr(line, '\n', len);
		if (nl != NULL) {
			*nl = '\0';
			return line;
		}
		int left_ms = (int)((deadline - clock_ns(CLOCK_MONOTONIC)) / NS_PER_MS);
		struct pollfd pfd = {.fd = 0, .events = POLLIN};
		if (left_ms <= 0 || poll(&pfd, 1, left_ms) == 0)
			fail("no start command within %d s", START_TIMEOUT_MS / 1000);
		if (len + 1 >= cap) {
			cap *= 2;
			line = realloc(line, cap);
			if (line == NULL)
				fail("out of memory");
		}
		ssize_t n = read(0, line + len, cap - len - 1);
		if (n == 0)
			exit(0); /* stdin closed: run.ts is gone */
		if (n < 0 && errno != EINTR)
			fail("read stdin: %s", strerror(errno));
		if (n > 0)
			len += (size_t)n;
	}
}

/** Connects socket 2c to the relay's port a of call c and 2c+1 to port b. */
static void connect_all(char *line)
{
	char *p = strstr(line, "\"targets\"");
	if (strstr(line, "\"start\"") == NULL || p == NULL)
		fail("expected {\"cmd\":\"start\",\"targets\":[...]}, got %.80s", line);
	p += strlen("\"targets\"");
	long got = 0;
	while (*p != '\0') {
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		long port = strtol(p, &p, 10);
		if (got >= streams || port <= 0 || port > 65535)
			fail("expected %ld targets (port pairs), got more or a bad port", calls);
		struct sockaddr_in addr = {.sin_family = AF_INET,
					   .sin_port = htons((uint16_t)port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (connect(fds[got], (struct sockaddr *)&addr, sizeof addr) != 0)
			fail("connect: %s", strerror(errno));
		got++;
	}
	if (got != streams)
		fail("expected %ld targets, got %ld ports", calls, got);
}

/* ---- receiving ---- */

static void on_packet(const uint8_t *p, size_t len, int flags, const struct msghdr *hdr)
{
	if (len != PACKET_BYTES || (flags & MSG_TRUNC) != 0) {
		foreign++;
		return;
	}
	uint32_t stream = get_u32le(p + OFF_STREAM);
	if (stream >= (uint32_t)streams) {
		foreign++;
		return;
	}
	if (p[OFF_FLAGS] != FLAG_MEASURED) {
		unmeasured++;
		return;
	}
	uint32_t seq = get_u32le(p + OFF_SEQ);
	if ((int64_t)seq == max_seq[stream]) {
		duplicates++;
		return;
	}
	if ((int64_t)seq > max_seq[stream])
		max_seq[stream] = seq;
	else
		reordered++;
	received[stream]++;
	int64_t rx_ns = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c != NULL; c = CMSG_NXTHDR((struct msghdr *)hdr, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof ts);
			rx_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		}
	}
	if (rx_ns < 0) {
		rx_user_stamped++; /* no kernel stamp (should not happen): our own, later, reading */
		rx_ns = clock_ns(CLOCK_REALTIME);
	}
	uint64_t bits;
	double send_ns;
	memcpy(&bits, p + OFF_SEND_NS, 8);
	bits = le64toh(bits);
	memcpy(&send_ns, &bits, 8);
	hist_record(&latency_us, ((double)(rx_ns - epoch_real_ns) - send_ns) / 1000);
}

/** Reads everything queued on one socket, RECV_BATCH datagrams per recvmmsg. */
static void drain_socket(int fd)
{
	static uint8_t bufs[RECV_BATCH][512];
	static union {
		char buf[CMSG_SPACE(sizeof(struct timespec)) * 2];
		struct cmsghdr align;
	} ctrl[RECV_BATCH];
	static struct iovec iov[RECV_BATCH];
	static struct mmsghdr msgs[RECV_BATCH];
	for (;;) {
		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof bufs[i]};
			msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i],
							  .msg_iovlen = 1,
							  .msg_control = ctrl[i].buf,
							  .msg_controllen = sizeof ctrl[i].buf};
		}
		int n = recvmmsg(fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				socket_errors++; /* e.g. ECONNREFUSED from an ICMP on a connected socket */
			return;
		}
		for (int i = 0; i < n; i++)
			on_packet(bufs[i], msgs[i].msg_len, msgs[i].msg_hdr.msg_flags, &msgs[i].msg_hdr);
		if (n < RECV_BATCH)
			return;
	}
}

static void check_stdin(void)
{
	char buf[256];
	ssize_t n = read(0, buf, sizeof buf);
	if (n == 0)
		exit(0); /* like generator.ts: stdin closed means run.ts is gone */
}

/** Handles what is ready: waits up to timeout_ms for the first event, then takes what else is queued. */
static void receive_ready(int timeout_ms)
{
	static struct epoll_event events[MAX_EVENTS];
	for (int pass = 0; pass < 8; pass++) {
		int n = epoll_wait(epfd, events, MAX_EVENTS, pass == 0 ? timeout_ms : 0);
		for (int i = 0; i < n; i++) {
			if (events[i].data.u32 == STDIN_TAG)
				check_stdin();
			else
				drain_socket(fds[events[i].data.u32]);
		}
		if (n < MAX_EVENTS)
			return;
	}
}

/* ---- sending ---- */

static void send_packet(long stream, bool measured, int64_t due)
{
	uint8_t *p = packets + (size_t)stream * PACKET_BYTES;
	uint32_t seq = next_seq[stream]++;
	uint16_t seq16 = htobe16((uint16_t)seq);
	uint32_t rtp_ts = htobe32(seq * PAYLOAD_BYTES);
	memcpy(p + 2, &seq16, 2);
	memcpy(p + 4, &rtp_ts, 4);
	put_u32le(p + OFF_SEQ, seq);
	p[OFF_FLAGS] = measured ? FLAG_MEASURED : 0;
	int64_t now_real = clock_ns(CLOCK_REALTIME);
	double send_ns = (double)(now_real - epoch_real_ns);
	uint64_t bits;
	memcpy(&bits, &send_ns, 8);
	bits = htole64(bits);
	memcpy(p + OFF_SEND_NS, &bits, 8);
	if (send(fds[stream], p, PACKET_BYTES, MSG_DONTWAIT) != PACKET_BYTES)
		socket_errors++;
	if (measured) {
		sent_measured[stream]++;
		/* One clock read per packet: the realtime stamp, taken back to the monotonic schedule. */
		hist_record(&late_ms, (double)(now_real - real_minus_mono_ns - due) / NS_PER_MS);
	}
}

static void start_window(void)
{
	measuring = true;
	win_start.cpu_us = cpu_us();
	win_start.at_ns = clock_ns(CLOCK_MONOTONIC);
	win_start.slept_ns = slept_ns;
	emit_raw("{\"type\":\"measure-start\"}");
}

static void end_window(void)
{
	win_end.cpu_us = cpu_us();
	win_end.at_ns = clock_ns(CLOCK_MONOTONIC);
	win_end.slept_ns = slept_ns;
	emit_raw("{\"type\":\"measure-end\"}");
}

/**
 * Sends every packet due by `now`, at most one round of streams (a generator that falls behind shows as
 * send lateness, not a spiral). Returns false once the schedule is over.
 */
static bool send_due(int64_t now)
{
	/* A starved generator stops on time anyway: packets it never sent are simply not counted as sent. */
	if (now >= measure_to + LATE_STOP_NS)
		return false;
	for (long n = 0; n < streams; n++) {
		int64_t due = t0 + round_no * PACKET_INTERVAL_NS + phase_ns[stream_at];
		if (due > now)
			break;
		if (due >= measure_to)
			return false;
		bool measured = due >= measure_from;
		if (measured && !measuring)
			start_window();
		send_packet(stream_at, measured, due);
		if (++stream_at == streams) {
			stream_at = 0;
			round_no++;
		}
	}
	return true;
}

static void sleep_until(int64_t at)
{
	struct timespec ts = {.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL};
	int64_t before = clock_ns(CLOCK_MONOTONIC);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	slept_ns += clock_ns(CLOCK_MONOTONIC) - before;
}

static void run(void)
{
	int64_t tick_ns = (int64_t)(tick_ms * NS_PER_MS);
	t0 = clock_ns(CLOCK_MONOTONIC) + 5 * NS_PER_MS;
	measure_from = t0 + (int64_t)(warmup_s * 1e9 + 0.5);
	measure_to = measure_from + (int64_t)(seconds * 1e9 + 0.5);
	int64_t wake = t0;
	for (;;) {
		sleep_until(wake);
		if (!send_due(clock_ns(CLOCK_MONOTONIC)))
			break;
		receive_ready(0);
		/* The next packet's due time, but no sooner than one tick after this wake-up. */
		int64_t due = t0 + round_no * PACKET_INTERVAL_NS + phase_ns[stream_at];
		wake = due > wake + tick_ns ? due : wake + tick_ns;
	}
	if (!measuring)
		start_window();
	end_window();
	/* Drain: what is still in flight arrives with its kernel stamp; read it as it comes. */
	int64_t drain_end = clock_ns(CLOCK_MONOTONIC) + (int64_t)(drain_ms * NS_PER_MS);
	for (int64_t now; (now = clock_ns(CLOCK_MONOTONIC)) < drain_end;)
		receive_ready((int)((drain_end - now + NS_PER_MS - 1) / NS_PER_MS));
}

/* ---- result ---- */

/** A JSON number, shortest form that reads back exactly; null when not finite (like JSON.stringify). */
static const char *num(char *buf, double v)
{
	if (!isfinite(v))
		return "null";
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, 32, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

static void emit_result(int64_t drift_ns)
{
	int64_t sent = 0, got = 0, worst = 0;
	for (long s = 0; s < streams; s++) {
		sent += sent_measured[s];
		got += received[s];
		int64_t loss = (int64_t)sent_measured[s] - (int64_t)received[s];
		if (loss > worst)
			worst = loss;
	}
	double wall_ms = (double)(win_end.at_ns - win_start.at_ns) / NS_PER_MS;
	double cpu = (double)(win_end.cpu_us - win_start.cpu_us);
	double slept_ms = (double)(win_end.slept_ns - win_start.slept_ns) / NS_PER_MS;
	char b[12][32];
	printf("{\"type\":\"result\",\"generator\":\"c\",\"calls\":%ld,\"streams\":%ld,\"seconds\":%s,"
	       "\"scheduled\":%.0f,\"sent\":%lld,\"received\":%lld,\"lost\":%lld,\"lossPct\":%s,"
	       "\"worstStreamLoss\":%lld,\"reordered\":%llu,\"duplicates\":%llu,\"foreign\":%llu,"
	       "\"unmeasured\":%llu,\"socketErrors\":%llu,\"rxUserStamped\":%llu,",
	       calls, streams, num(b[0], seconds), round((double)streams * seconds * 1e9 / PACKET_INTERVAL_NS),
	       (long long)sent, (long long)got, (long long)(sent - got),
	       num(b[1], sent == 0 ? 0 : (double)(sent - got) / (double)sent * 100), (long long)worst,
	       (unsigned long long)reordered, (unsigned long long)duplicates, (unsigned long long)foreign,
	       (unsigned long long)unmeasured, (unsigned long long)socket_errors,
	       (unsigned long long)rx_user_stamped);
	printf("\"latencyUs\":{\"p50\":%s,\"p90\":%s,\"p99\":%s,\"p999\":%s,\"max\":%s,\"mean\":%s},",
	       num(b[0], hist_quantile(&latency_us, 0.5)), num(b[1], hist_quantile(&latency_us, 0.9)),
	       num(b[2], hist_quantile(&latency_us, 0.99)), num(b[3], hist_quantile(&latency_us, 0.999)),
	       num(b[4], latency_us.max), num(b[5], hist_mean(&latency_us)));
	printf("\"sendLateMs\":{\"p50\":%s,\"p99\":%s,\"max\":%s},\"windowMs\":%s,\"cpuUs\":%s,\"cpuPct\":%s,"
	       "\"elu\":%s,\"tickMs\":%s,\"realtimeDriftUs\":%s}\n",
	       num(b[0], hist_quantile(&late_ms, 0.5)), num(b[1], hist_quantile(&late_ms, 0.99)),
	       num(b[2], late_ms.max), num(b[3], wall_ms), num(b[4], cpu), num(b[5], cpu / (wall_ms * 1000) * 100),
	       num(b[6], (wall_ms - slept_ms) / wall_ms), num(b[7], tick_ms), num(b[8], (double)drift_ns / 1000));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	calls = (long)number_arg(argc, argv, "calls", 250);
	seconds = number_arg(argc, argv, "seconds", 20);
	warmup_s = number_arg(argc, argv, "warmup", 2);
	tick_ms = number_arg(argc, argv, "tick-ms", 0.1);
	drain_ms = number_arg(argc, argv, "drain-ms", 1000);
	if (calls < 1 || calls > 32000 || seconds <= 0 || seconds > 3600 || warmup_s < 0 || warmup_s > 600 ||
	    tick_ms < 0.01 || tick_ms > 100 || drain_ms < 0 || drain_ms > 60000)
		fail("bad arguments: --calls 1..32000 --seconds (0,3600] --warmup [0,600] --tick-ms [0.01,100] "
		     "--drain-ms [0,60000]");
	streams = 2 * calls;
	/* Precise wake-ups: the default 50 µs timer slack would blur a 100 µs tick. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	epoch_real_ns = clock_ns(CLOCK_REALTIME);
	real_minus_mono_ns = epoch_real_ns - clock_ns(CLOCK_MONOTONIC);
	fds = alloc((size_t)streams, sizeof *fds);
	packets = alloc((size_t)streams, PACKET_BYTES);
	phase_ns = alloc((size_t)streams, sizeof *phase_ns);
	next_seq = alloc((size_t)streams, sizeof *next_seq);
	sent_measured = alloc((size_t)streams, sizeof *sent_measured);
	received = alloc((size_t)streams, sizeof *received);
	max_seq = alloc((size_t)streams, sizeof *max_seq);
	hist_init(&latency_us, 2000000, 1); /* 1 µs bins up to 2 s */
	hist_init(&late_ms, 10000, 0.1);    /* send lateness vs schedule, 0.1 ms bins up to 1 s */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		fail("epoll_create1: %s", strerror(errno));
	bind_all();
	emit_ports();
	char *line = read_start_line();
	connect_all(line);
	free(line);
	/* Watch stdin for EOF during the run (epoll refuses a regular file: then it is simply not watched). */
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = STDIN_TAG};
	(void)epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
	emit_raw("{\"type\":\"started\"}");
	run();
	int64_t drift_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC) - real_minus_mono_ns;
	emit_result(drift_ns);
	return 0;
}
