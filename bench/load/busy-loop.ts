/**
 * One background-load process for the bench's "loaded" setting
 * (background-load.ts starts N of these): it keeps one core busy at normal
 * priority, like a Node cluster worker that never idles, until it is killed.
 *
 * It also exits by itself as soon as its parent is gone: a bench killed with
 * SIGKILL (or crashed past its exit hooks) must never leave busy loops behind
 * on a shared machine. The loop cannot wait for an event (it never yields to
 * the event loop), so it polls process.ppid, which Node reads afresh on every
 * access and which changes when the orphan is re-parented.
 */
const parent = process.ppid;
// Tell the bench that the loop is about to run, so a measurement starts under full load.
process.stdout.write('busy\n');
for (;;) {
  const until = Date.now() + 20;
  while (Date.now() < until) {
    // spin
  }
  if (process.ppid !== parent) process.exit(0);
}
