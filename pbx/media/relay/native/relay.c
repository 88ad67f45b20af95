/*
 * sippbx native RTP/RTCP relay (Node-API addon, Linux): the relay hot path of pbx/media/relay in C.
 *
 * Why: a Node relay pays per datagram for a libuv wake-up, a RemoteInfo object, a Buffer and a JS call
 * on top of the kernel's recvmsg/sendmsg; that is about as much as rtpengine's whole userspace cost
 * (docs/benchmarks.md "RTP relay"). Here one thread per Node environment waits in epoll on every relay
 * socket and forwards a packet with one recvmmsg and one sendto, never entering JS. See
 * docs/adr/0004-native-relay.md.
 *
 * Semantics are those of line.ts (the Node engine) and must stay so: per media line an A-facing and a
 * B-facing RTP/RTCP socket pair; a party's flow starts at its SDP address and latches to the first
 * packet's source (symmetric RTP); later packets from another source are dropped as `foreign-source`
 * (no RTP bleed); only setRemote (a new offer/answer) clears a latch. RTCP is relayed the same way;
 * RFC 5761 rtcp-mux demultiplexes on the second byte. Counters per line are read by JS.
 *
 * Concurrency: JS calls (setRemote, remote, counters, forward, close) and the relay thread take the
 * line's mutex; it is uncontended on the hot path. close() marks the line dead, removes and closes its
 * sockets at once (the ports are free when close returns) and hands the memory to the relay thread,
 * which frees it at the top of its next loop, when no pointer from an earlier epoll batch is left; the
 * thread is not woken for that (a packet, the 1 s epoll timeout or a backlog of RETIRE_WAKE_BACKLOG
 * lines runs the loop), so opening and closing a line never switches to the relay thread.
 * RTP of a direction with a JS transform (transcoding) is copied to JS through a thread-safe function
 * and comes back through forward().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* Counter slots, in the order counters() returns them (native.ts reads the same order). */
enum {
  C_RTP_PACKETS = 0, /* + direction (0 = a-to-b, 1 = b-to-a) */
  C_RTP_BYTES = 2,
  C_RTCP_PACKETS = 4,
  C_RTCP_BYTES = 6,
  C_DROPPED = 8, /* + drop reason, in types.ts DROP_REASONS order */
  C_RTP_RECEIVED = 15,
  C_COUNT = 16
};

/* types.ts DROP_REASONS order. */
enum { D_MALFORMED, D_FOREIGN, D_NO_DESTINATION, D_TRANSFORM, D_SEND_ERROR, D_SOCKET_ERROR, D_STUN };

enum { FLOW_RTP = 0, FLOW_RTCP = 1 };
enum { KIND_MALFORMED = 0, KIND_RTP = 1, KIND_RTCP = 2 };

#define BATCH 16
#define MAX_DATAGRAM 65536
#define MAX_EVENTS 256
#define DIVERT_QUEUE 8192
/* Retired lines (about 1 KB each) that wake the relay thread to free them; fewer wait for its next loop. */
#define RETIRE_WAKE_BACKLOG 256

/* A party's address for one flow: the SDP's until the first packet, then the packet's source. */
struct peer {
  struct sockaddr_storage addr;
  socklen_t len;
  int has; /* a destination is known (address and port != 0) */
  int latched;
};

struct line;

/* What an epoll event points at: one relay socket of a line. */
struct sock_ref {
  struct line *line;
  int leg;  /* the party this socket faces: 0 = A, 1 = B */
  int flow; /* FLOW_RTP or FLOW_RTCP */
};

struct leg {
  int fd[2]; /* by flow */
  struct peer peer[2];
  int rtcp_mux;
  int divert;      /* RTP received from this party goes to JS (a transform is installed) */
  int divert_rtcp; /* and its RTCP too (a transcoder translates its sender reports) */
};

struct engine;

struct line {
  pthread_mutex_t mu;
  struct engine *engine;
  uint32_t id;
  int dead;
  int family;
  struct leg leg[2];
  struct sock_ref ref[4];
  uint64_t count[C_COUNT];
  struct line *next_retired;
};

/* One per Node environment (main thread, each worker): its epoll set, relay thread and JS callback. */
struct engine {
  int epfd;
  int wakefd;
  pthread_t thread;
  int started;
  volatile int stopping;
  napi_threadsafe_function divert;
  pthread_mutex_t retire_mu;
  struct line *retired;
  int retired_count; /* lines on `retired` */
  /* Receive buffers of the relay thread. */
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  unsigned char *buf;
};

/* A diverted RTP packet on its way to JS. */
struct diverted {
  uint32_t line_id;
  int leg;
  int rtcp;
  size_t len;
  unsigned char data[];
};

/* ---- packets (RFC 3550 §5.1, §6.4.1; RFC 5761 §4) --------------------------------------------- */

static int rtp_kind(const unsigned char *p, size_t n) {
  return n >= 12 && (p[0] >> 6) == 2 ? KIND_RTP : KIND_MALFORMED;
}

static int rtcp_kind(const unsigned char *p, size_t n) {
  return n >= 8 && (p[0] >> 6) == 2 ? KIND_RTCP : KIND_MALFORMED;
}

static int muxed_kind(const unsigned char *p, size_t n) {
  if (n >= 2 && p[1] >= 192 && p[1] <= 223) return rtcp_kind(p, n);
  return rtp_kind(p, n);
}

/* A STUN message (RFC 5389 §6, RFC 7983 §7): first byte 0-3 and the magic cookie; dropped as `stun`. */
static int is_stun(const unsigned char *p, size_t n) {
  return n >= 20 && p[0] < 4 && p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xa4 && p[7] == 0x42;
}

/* ---- peers -------------------------------------------------------------------------------------- */

static int same_source(const struct peer *peer, const struct sockaddr_storage *src) {
  if (peer->addr.ss_family != src->ss_family) return 0;
  if (src->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&peer->addr;
    const struct sockaddr_in *b = (const struct sockaddr_in *)src;
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&peer->addr;
  const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)src;
  return a->sin6_port == b->sin6_port && memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0;
}

/* Latches on the first packet; afterwards true only for packets from the latched source. */
static int accept_source(struct peer *peer, const struct sockaddr_storage *src, socklen_t len) {
  if (peer->latched) return same_source(peer, src);
  memcpy(&peer->addr, src, len);
  peer->len = len;
  peer->has = 1;
  peer->latched = 1;
  return 1;
}

/* ---- the hot path ----------------------------------------------------------------------------- */

static void drop(struct line *line, int reason) { line->count[C_DROPPED + reason]++; }

/* Sends one datagram to a flow's peer and counts it; the caller holds the line's mutex. */
static void send_to(struct line *line, struct leg *to, int flow, int counter, int direction,
                    const unsigned char *data, size_t len) {
  struct peer *peer = &to->peer[flow];
  if (!peer->has) {
    drop(line, D_NO_DESTINATION);
    return;
  }
  /* Counted before the send, so whoever receives the packet already sees it counted. */
  line->count[counter + direction]++;
  line->count[counter + 2 + direction] += len;
  ssize_t sent = sendto(to->fd[flow], data, len, MSG_DONTWAIT, (const struct sockaddr *)&peer->addr,
                        peer->len);
  if (sent < 0) {
    line->count[counter + direction]--;
    line->count[counter + 2 + direction] -= len;
    drop(line, D_SEND_ERROR);
  }
}

static void send_rtcp(struct line *line, int from, const unsigned char *data, size_t len) {
  struct leg *to = &line->leg[1 - from];
  send_to(line, to, to->rtcp_mux ? FLOW_RTP : FLOW_RTCP, C_RTCP_PACKETS, from, data, len);
}

static void divert_to_js(struct line *line, int from, int rtcp, const unsigned char *data, size_t len) {
  struct diverted *item = malloc(sizeof(struct diverted) + len);
  if (item == NULL) {
    drop(line, D_TRANSFORM);
    return;
  }
  item->line_id = line->id;
  item->leg = from;
  item->rtcp = rtcp;
  item->len = len;
  memcpy(item->data, data, len);
  if (napi_call_threadsafe_function(line->engine->divert, item, napi_tsfn_nonblocking) != napi_ok) {
    free(item);
    drop(line, D_TRANSFORM);
  }
}

/* One datagram received on the socket facing party `from`; the caller holds the line's mutex. */
static void relay_one(struct line *line, int from, int flow, const unsigned char *data, size_t len,
                      const struct sockaddr_storage *src, socklen_t src_len) {
  struct leg *leg = &line->leg[from];
  int kind;
  if (flow == FLOW_RTCP) kind = rtcp_kind(data, len);
  else kind = leg->rtcp_mux ? muxed_kind(data, len) : rtp_kind(data, len);
  if (kind == KIND_MALFORMED) return drop(line, is_stun(data, len) ? D_STUN : D_MALFORMED);
  if (!accept_source(&leg->peer[flow], src, src_len)) return drop(line, D_FOREIGN);
  if (kind == KIND_RTCP) {
    if (leg->divert_rtcp) return divert_to_js(line, from, 1, data, len);
    return send_rtcp(line, from, data, len);
  }
  line->count[C_RTP_RECEIVED]++;
  if (leg->divert) return divert_to_js(line, from, 0, data, len);
  send_to(line, &line->leg[1 - from], FLOW_RTP, C_RTP_PACKETS, from, data, len);
}

/* Drains up to BATCH datagrams of one ready socket with a single recvmmsg. */
static void on_readable(struct engine *engine, struct sock_ref *ref) {
  struct line *line = ref->line;
  pthread_mutex_lock(&line->mu);
  if (line->dead) {
    pthread_mutex_unlock(&line->mu);
    return;
  }
  int fd = line->leg[ref->leg].fd[ref->flow];
  for (int i = 0; i < BATCH; i++) {
    engine->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    engine->msgs[i].msg_hdr.msg_flags = 0;
  }
  int n = recvmmsg(fd, engine->msgs, BATCH, MSG_DONTWAIT, NULL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) drop(line, D_SOCKET_ERROR);
  for (int i = 0; i < n; i++) {
    struct msghdr *hdr = &engine->msgs[i].msg_hdr;
    if (hdr->msg_flags & MSG_TRUNC) {
      drop(line, D_MALFORMED);
      continue;
    }
    relay_one(line, ref->leg, ref->flow, hdr->msg_iov->iov_base, engine->msgs[i].msg_len,
              &engine->from[i], hdr->msg_namelen);
  }
  pthread_mutex_unlock(&line->mu);
}

static void free_retired(struct engine *engine) {
  pthread_mutex_lock(&engine->retire_mu);
  struct line *line = engine->retired;
  engine->retired = NULL;
  engine->retired_count = 0;
  pthread_mutex_unlock(&engine->retire_mu);
  while (line != NULL) {
    struct line *next = line->next_retired;
    pthread_mutex_destroy(&line->mu);
    free(line);
    line = next;
  }
}

static void *relay_main(void *arg) {
  struct engine *engine = arg;
  struct epoll_event events[MAX_EVENTS];
  /* So `top -H`, perf and /proc/PID/task show the relay apart from Node's threads. */
  pthread_setname_np(pthread_self(), "sippbx-relay");
  while (!engine->stopping) {
    /* Every line retired before this point was dead before the batch below was collected. */
    free_retired(engine);
    int n = epoll_wait(engine->epfd, events, MAX_EVENTS, 1000);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        uint64_t value;
        if (read(engine->wakefd, &value, sizeof value) < 0) continue;
        continue;
      }
      on_readable(engine, events[i].data.ptr);
    }
  }
  free_retired(engine);
  return NULL;
}

/* ---- Node-API glue ---------------------------------------------------------------------------- */

#define CHECK(env, call)                                                                     \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      const napi_extended_error_info *info = NULL;                                           \
      napi_get_last_error_info((env), &info);                                                \
      napi_throw_error((env), "PBX_ERR_NATIVE_RELAY",                                        \
                       info != NULL && info->error_message != NULL ? info->error_message     \
                                                                   : "native relay call failed"); \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "PBX_ERR_NATIVE_RELAY", message);
  return NULL;
}

static struct engine *engine_of(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

/* Reads a line handle; NULL (with a JS exception) when the value is not one. */
static struct line *line_arg(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throw_type(env, "expected a native relay line");
    return NULL;
  }
  return data;
}

/*
 * Reads the `want` arguments of a binding call whose first is a line handle; NULL (with a JS TypeError)
 * when there are fewer or the first is not a line.
 */
static struct line *line_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    throw_type(env, "missing arguments to a native relay call");
    return NULL;
  }
  return line_arg(env, argv[0]);
}

static int int_arg(napi_env env, napi_value value, int32_t *out) {
  return napi_get_value_int32(env, value, out) == napi_ok;
}

/* An int32 argument within [lo, hi] (a leg or flow 0-1, a drop reason). */
static int int_in(napi_env env, napi_value value, int32_t lo, int32_t hi, int32_t *out) {
  return int_arg(env, value, out) && *out >= lo && *out <= hi;
}

static void call_divert(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  struct diverted *item = data;
  if (env != NULL && callback != NULL) {
    napi_value args[4], undefined;
    void *copy = NULL;
    if (napi_create_uint32(env, item->line_id, &args[0]) == napi_ok &&
        napi_create_int32(env, item->leg, &args[1]) == napi_ok &&
        napi_create_buffer_copy(env, item->len, item->data, &copy, &args[2]) == napi_ok &&
        napi_get_boolean(env, item->rtcp, &args[3]) == napi_ok &&
        napi_get_undefined(env, &undefined) == napi_ok) {
      napi_call_function(env, undefined, callback, 4, args, NULL);
    }
  }
  free(item);
}

/* Wakes the relay thread out of epoll_wait; if the write fails, its 1 s epoll timeout does it instead. */
static void wake(struct engine *engine) {
  uint64_t one = 1;
  if (write(engine->wakefd, &one, sizeof one) < 0) { /* the timeout wakes it */ }
}

/* Env cleanup hook (registered after the thread-safe function, so it runs before that is torn down). */
static void stop_thread(void *arg) {
  struct engine *engine = arg;
  if (!engine->started) return;
  engine->stopping = 1;
  wake(engine);
  pthread_join(engine->thread, NULL);
  engine->started = 0;
}

/*
 * Instance-data finalizer: the environment is going away. Lines JS never closed (every owner closes its
 * lines; process exit is the only other way out) keep their sockets until the process ends.
 */
static void free_engine(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct engine *engine = data;
  stop_thread(engine);
  free_retired(engine);
  close(engine->epfd);
  close(engine->wakefd);
  free(engine->buf);
  pthread_mutex_destroy(&engine->retire_mu);
  free(engine);
}

/* start(onDiverted): starts this environment's relay thread; onDiverted(lineId, fromLeg, packet). */
static napi_value start(napi_env env, napi_callback_info info) {
  struct engine *engine = engine_of(env);
  if (engine == NULL) return throw_type(env, "native relay engine missing");
  if (engine->started) return NULL;
  size_t argc = 1;
  napi_value argv[1], name;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "start(onDiverted) needs a callback");
  CHECK(env, napi_create_string_utf8(env, "sippbx-relay-divert", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_threadsafe_function(env, argv[0], NULL, name, DIVERT_QUEUE, 1, NULL, NULL,
                                             NULL, call_divert, &engine->divert));
  /* A relay with nothing to hand over must not keep the process alive. */
  CHECK(env, napi_unref_threadsafe_function(env, engine->divert));
  if (pthread_create(&engine->thread, NULL, relay_main, engine) != 0) {
    napi_throw_error(env, "PBX_ERR_NATIVE_RELAY", "cannot start the native relay thread");
    return NULL;
  }
  engine->started = 1;
  CHECK(env, napi_add_env_cleanup_hook(env, stop_thread, engine));
  return NULL;
}

/* Fills a socket address of `family` (4 or 6) from an IP literal and a port; 0 when the literal is bad. */
static int make_addr(int family, const char *address, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons((uint16_t)port);
    *len = sizeof *sa;
    return inet_pton(AF_INET6, address, &sa->sin6_addr) == 1;
  }
  struct sockaddr_in *sa = (struct sockaddr_in *)ss;
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  *len = sizeof *sa;
  return inet_pton(AF_INET, address, &sa->sin_addr) == 1;
}

static int bind_one(int family, const char *address, int port, int *out_errno) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (!make_addr(family, address, port, &ss, &len)) {
    *out_errno = EINVAL;
    return -1;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *out_errno = errno;
    return -1;
  }
  if (family == 6) {
    /* Dual stack like node:dgram's udp6: IPv4 parties arrive as ::ffff:a.b.c.d. */
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
    *out_errno = errno;
    close(fd);
    return -1;
  }
  return fd;
}

static napi_value bind_error(napi_env env, int port, int err) {
  napi_value result, code, value, message;
  CHECK(env, napi_create_object(env, &result));
  const char *name = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EINVAL ? "EINVAL" : "EBIND";
  CHECK(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
  CHECK(env, napi_set_named_property(env, result, "code", code));
  CHECK(env, napi_create_int32(env, port, &value));
  CHECK(env, napi_set_named_property(env, result, "port", value));
  CHECK(env, napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message));
  CHECK(env, napi_set_named_property(env, result, "message", message));
  return result;
}

/*
 * Removes a line's sockets from the epoll set and closes them. The EPOLL_CTL_DEL is not redundant: close()
 * drops a socket from epoll only once no descriptor of it is left, and a child between fork and exec still
 * holds one; its events would then name a line that the relay thread frees.
 */
static void close_fds(struct line *line) {
  int epfd = line->engine->epfd;
  for (int leg = 0; leg < 2; leg++) {
    for (int flow = 0; flow < 2; flow++) {
      int fd = line->leg[leg].fd[flow];
      if (fd < 0) continue;
      epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
      close(fd);
      line->leg[leg].fd[flow] = -1;
    }
  }
}

/* Frees a line none of whose sockets is in the epoll set yet (a failed bind): nothing else can see it. */
static void discard_line(struct line *line) {
  close_fds(line);
  pthread_mutex_destroy(&line->mu);
  free(line);
}

/*
 * Marks a line dead and closes its sockets now (their ports are free on return); the memory goes to the
 * relay thread, which frees it when no pointer of an earlier epoll batch can remain. Idempotent.
 */
static void retire_line(struct line *line) {
  struct engine *engine = line->engine;
  pthread_mutex_lock(&line->mu);
  int was_dead = line->dead;
  line->dead = 1;
  close_fds(line);
  pthread_mutex_unlock(&line->mu);
  if (was_dead) return;
  pthread_mutex_lock(&engine->retire_mu);
  line->next_retired = engine->retired;
  engine->retired = line;
  int backlog = ++engine->retired_count;
  pthread_mutex_unlock(&engine->retire_mu);
  /*
   * No wake per close: the thread frees retired lines at the top of its loop anyway (after the next packet,
   * or the epoll timeout). A wake costs an eventfd write and, with the pbx pinned to one core, two context
   * switches per call on the core that runs the event loop. Only a backlog this large wakes it, which
   * bounds the memory waiting to be freed when no packet flows.
   */
  if (backlog == RETIRE_WAKE_BACKLOG) wake(engine);
}

/*
 * open(id, family, address, firstPort): binds A-RTP, A-RTCP, B-RTP, B-RTCP on firstPort..firstPort+3 and
 * returns the line handle, or {code, port, message} when a port cannot be bound (nothing stays bound).
 */
static napi_value open_line(napi_env env, napi_callback_info info) {
  struct engine *engine = engine_of(env);
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t id;
  int32_t family, first;
  char address[64];
  size_t address_len;
  if (argc < 4 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || !int_arg(env, argv[1], &family) ||
      napi_get_value_string_utf8(env, argv[2], address, sizeof address, &address_len) != napi_ok ||
      !int_arg(env, argv[3], &first) || (family != 4 && family != 6) || first < 1 || first > 65532)
    return throw_type(env, "open(id, 4|6, address, firstPort)");
  if (engine == NULL || !engine->started) return throw_type(env, "native relay not started");
  struct line *line = calloc(1, sizeof *line);
  if (line == NULL) return throw_type(env, "out of memory");
  pthread_mutex_init(&line->mu, NULL);
  line->engine = engine;
  line->id = id;
  line->family = family;
  for (int i = 0; i < 4; i++) line->leg[i / 2].fd[i % 2] = -1;
  for (int i = 0; i < 4; i++) {
    int err = 0;
    int fd = bind_one(family, address, first + i, &err);
    if (fd < 0) {
      discard_line(line);
      return bind_error(env, first + i, err);
    }
    line->leg[i / 2].fd[i % 2] = fd;
    line->ref[i] = (struct sock_ref){.line = line, .leg = i / 2, .flow = i % 2};
  }
  for (int i = 0; i < 4; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &line->ref[i]};
    if (epoll_ctl(engine->epfd, EPOLL_CTL_ADD, line->leg[i / 2].fd[i % 2], &ev) != 0) {
      /* Sockets already added may be in the relay thread's current batch: retire, do not free. */
      retire_line(line);
      napi_throw_error(env, "PBX_ERR_NATIVE_RELAY", "epoll_ctl failed");
      return NULL;
    }
  }
  napi_value handle;
  if (napi_create_external(env, line, NULL, NULL, &handle) != napi_ok) {
    retire_line(line);
    napi_throw_error(env, "PBX_ERR_NATIVE_RELAY", "cannot hand the line to JavaScript");
    return NULL;
  }
  return handle;
}

/* setRemote(line, leg, address, rtpPort, rtcpPort, rtcpMux): '' address = no destination yet. */
static napi_value set_remote(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  struct line *line = line_call(env, info, 6, argv);
  if (line == NULL) return NULL;
  int32_t leg, ports[2];
  bool mux;
  char address[64];
  size_t address_len;
  if (!int_in(env, argv[1], 0, 1, &leg) ||
      napi_get_value_string_utf8(env, argv[2], address, sizeof address, &address_len) != napi_ok ||
      !int_arg(env, argv[3], &ports[0]) || !int_arg(env, argv[4], &ports[1]) ||
      napi_get_value_bool(env, argv[5], &mux) != napi_ok)
    return throw_type(env, "setRemote(line, leg, address, rtpPort, rtcpPort, rtcpMux)");
  struct peer peers[2];
  memset(peers, 0, sizeof peers);
  for (int flow = 0; flow < 2; flow++) {
    struct peer *peer = &peers[flow];
    if (address_len == 0 || ports[flow] < 0 || ports[flow] > 65535) continue;
    if (!make_addr(line->family, address, ports[flow], &peer->addr, &peer->len))
      return throw_type(env, line->family == 6 ? "bad IPv6 address" : "bad IPv4 address");
    peer->has = ports[flow] != 0; /* port 0: a rejected stream, no destination (RFC 3264 §6) */
  }
  pthread_mutex_lock(&line->mu);
  line->leg[leg].peer[FLOW_RTP] = peers[0];
  line->leg[leg].peer[FLOW_RTCP] = peers[1];
  line->leg[leg].rtcp_mux = mux;
  pthread_mutex_unlock(&line->mu);
  return NULL;
}

/* remote(line, leg, flow) -> [address, port, latched]; ['', 0, false] while the SDP gave no address. */
static napi_value remote(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct line *line = line_call(env, info, 3, argv);
  if (line == NULL) return NULL;
  int32_t leg, flow;
  if (!int_in(env, argv[1], 0, 1, &leg) || !int_in(env, argv[2], 0, 1, &flow))
    return throw_type(env, "remote(line, leg, flow)");
  pthread_mutex_lock(&line->mu);
  struct peer peer = line->leg[leg].peer[flow];
  pthread_mutex_unlock(&line->mu);
  char text[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (peer.addr.ss_family != 0) {
    if (peer.addr.ss_family == AF_INET6) {
      const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)&peer.addr;
      inet_ntop(AF_INET6, &sa->sin6_addr, text, sizeof text);
      port = ntohs(sa->sin6_port);
    } else {
      const struct sockaddr_in *sa = (const struct sockaddr_in *)&peer.addr;
      inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text);
      port = ntohs(sa->sin_port);
    }
  }
  napi_value result, value;
  CHECK(env, napi_create_array_with_length(env, 3, &result));
  CHECK(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value));
  CHECK(env, napi_set_element(env, result, 0, value));
  CHECK(env, napi_create_int32(env, port, &value));
  CHECK(env, napi_set_element(env, result, 1, value));
  CHECK(env, napi_get_boolean(env, peer.latched, &value));
  CHECK(env, napi_set_element(env, result, 2, value));
  return result;
}

/* setDivert(line, leg, rtp, rtcp): what `leg` sends goes to JS's onDiverted instead of the other party. */
static napi_value set_divert(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct line *line = line_call(env, info, 4, argv);
  if (line == NULL) return NULL;
  int32_t leg;
  bool rtp, rtcp;
  if (!int_in(env, argv[1], 0, 1, &leg) || napi_get_value_bool(env, argv[2], &rtp) != napi_ok ||
      napi_get_value_bool(env, argv[3], &rtcp) != napi_ok)
    return throw_type(env, "setDivert(line, leg, rtp, rtcp)");
  pthread_mutex_lock(&line->mu);
  line->leg[leg].divert = rtp;
  line->leg[leg].divert_rtcp = rtcp;
  pthread_mutex_unlock(&line->mu);
  return NULL;
}

/* Sends a packet JS hands back (a transform's output) to the other party and counts it. */
static napi_value send_from_js(napi_env env, napi_callback_info info, int rtcp) {
  napi_value argv[3];
  struct line *line = line_call(env, info, 3, argv);
  if (line == NULL) return NULL;
  int32_t leg;
  void *data = NULL;
  size_t len = 0;
  if (!int_in(env, argv[1], 0, 1, &leg) ||
      napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok)
    return throw_type(env, "forward(line, leg, buffer)");
  pthread_mutex_lock(&line->mu);
  if (line->dead) { /* closed meanwhile: nothing to send from */
  } else if (rtcp) {
    send_rtcp(line, leg, data, len);
  } else {
    send_to(line, &line->leg[1 - leg], FLOW_RTP, C_RTP_PACKETS, leg, data, len);
  }
  pthread_mutex_unlock(&line->mu);
  return NULL;
}

/* forward(line, fromLeg, packet): RTP. */
static napi_value forward(napi_env env, napi_callback_info info) { return send_from_js(env, info, 0); }

/* forwardRtcp(line, fromLeg, packet): RTCP, to the other party's RTCP port (or RTP port with rtcp-mux). */
static napi_value forward_rtcp(napi_env env, napi_callback_info info) { return send_from_js(env, info, 1); }

/* drop(line, reason): counts a drop decided in JS (a transform that returned null). */
static napi_value count_drop(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct line *line = line_call(env, info, 2, argv);
  if (line == NULL) return NULL;
  int32_t reason;
  if (!int_in(env, argv[1], 0, D_STUN, &reason))
    return throw_type(env, "drop(line, reason)");
  pthread_mutex_lock(&line->mu);
  drop(line, reason);
  pthread_mutex_unlock(&line->mu);
  return NULL;
}

/* counters(line, into: Float64Array(16)): copies the line's counters (C_* order). */
static napi_value counters(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct line *line = line_call(env, info, 2, argv);
  if (line == NULL) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < C_COUNT)
    return throw_type(env, "counters(line, Float64Array(16))");
  double *out = data;
  pthread_mutex_lock(&line->mu);
  for (int i = 0; i < C_COUNT; i++) out[i] = (double)line->count[i];
  pthread_mutex_unlock(&line->mu);
  return NULL;
}

/* close(line): closes the four sockets now (their ports are free on return); the thread frees the rest. */
static napi_value close_line(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct line *line = line_call(env, info, 1, argv);
  if (line != NULL) retire_line(line);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  struct engine *engine = calloc(1, sizeof *engine);
  if (engine == NULL) return throw_type(env, "out of memory");
  engine->buf = malloc((size_t)BATCH * MAX_DATAGRAM);
  engine->epfd = epoll_create1(EPOLL_CLOEXEC);
  engine->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pthread_mutex_init(&engine->retire_mu, NULL);
  if (engine->buf == NULL || engine->epfd < 0 || engine->wakefd < 0) {
    napi_throw_error(env, "PBX_ERR_NATIVE_RELAY", "cannot set up the native relay (epoll/eventfd/memory)");
    return NULL;
  }
  for (int i = 0; i < BATCH; i++) {
    engine->iov[i] = (struct iovec){.iov_base = engine->buf + (size_t)i * MAX_DATAGRAM, .iov_len = MAX_DATAGRAM};
    engine->msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &engine->from[i],
        .msg_namelen = sizeof(struct sockaddr_storage),
        .msg_iov = &engine->iov[i],
        .msg_iovlen = 1,
    };
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(engine->epfd, EPOLL_CTL_ADD, engine->wakefd, &ev);
  CHECK(env, napi_set_instance_data(env, engine, free_engine, NULL));
  napi_property_descriptor props[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, open_line, NULL, NULL, NULL, napi_default, NULL},
      {"setRemote", NULL, set_remote, NULL, NULL, NULL, napi_default, NULL},
      {"remote", NULL, remote, NULL, NULL, NULL, napi_default, NULL},
      {"setDivert", NULL, set_divert, NULL, NULL, NULL, napi_default, NULL},
      {"forward", NULL, forward, NULL, NULL, NULL, napi_default, NULL},
      {"forwardRtcp", NULL, forward_rtcp, NULL, NULL, NULL, napi_default, NULL},
      {"drop", NULL, count_drop, NULL, NULL, NULL, napi_default, NULL},
      {"counters", NULL, counters, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_line, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
