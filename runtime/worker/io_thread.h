/* io_thread.h: the I/O thread that answers a core worker's protocol while its owner
 * thread (the one running Lua, or an embedding program's) is busy elsewhere.
 *
 * One lock guards the core worker's state and sockets. The owner thread (one per core
 * worker) takes it for each call into the core worker (rl_io_enter/rl_io_leave, nesting
 * allowed) and, while it waits in a call (get, wait, poll), polls the sockets itself:
 * the hot path has no hand-off between threads, no mutex and no locked instruction.
 * The I/O thread takes the lock only when the owner has been outside the core worker
 * without polling for a grace period; it then polls the sockets plus an eventfd until
 * the owner comes back (its enter writes the eventfd and waits for the round to end).
 * The I/O thread's membarrier when it starts serving, its release of `serving` and the
 * owner's acquire of it (and the mutex, when the owner waits) give ZeroMQ the barrier it
 * needs when a socket passes between threads. Hooks the host set
 * (ready, log) run on the owner thread only. */
#ifndef RL_IO_THREAD_H
#define RL_IO_THREAD_H
#include <stdbool.h>

typedef struct rl_io rl_io_t;

/* One round of serving on the I/O thread, lock held: poll the sockets and wake_fd for up
 * to timeout_ms, handle what came, and return (early once wake_fd is readable). */
typedef void (*rl_io_serve_fn)(void *ctx, int wake_fd, int timeout_ms);

/* A new lock with no thread yet (every enter then fences fully). NULL on failure. */
rl_io_t *rl_io_new(void);
/* Starts the I/O thread (with every signal blocked, so they reach the owner thread):
 * after grace_ms of the owner outside without polling, it serves through serve(ctx).
 * Call from the owner thread, not holding the lock. Returns 0, or -1 (errno set). */
int rl_io_start(rl_io_t *io, rl_io_serve_fn serve, void *ctx, int grace_ms);
/* Stops and joins the thread (if started), frees everything, nulls *p; safe twice.
 * Call from the owner thread, not holding the lock. */
void rl_io_destroy(rl_io_t **p);

/* A hold of the lock by the calling thread; `taken` if this enter took it (outermost). */
typedef struct {
  rl_io_t *io;
  bool taken;
} rl_io_hold_t;
/* Takes the lock for the owner thread (a no-op if it already holds it), waking the I/O
 * thread out of its poll and waiting for its round to end if it serves now. Only the
 * owner thread (one per core worker) calls it. Can't fail. */
rl_io_hold_t rl_io_enter(rl_io_t *io);
/* Ends a hold from rl_io_enter (releases the lock if that enter took it). */
void rl_io_leave(rl_io_hold_t *h);
/* True on the I/O thread (serving). */
bool rl_io_on_io_thread(const rl_io_t *io);
/* The owner thread polled the sockets: the I/O thread need not serve for a while. */
void rl_io_polled(rl_io_t *io);
/* Rounds served by the I/O thread so far (for tests and logs). */
unsigned long rl_io_rounds(const rl_io_t *io);

#endif
