/** Progress lines of the bench go to stderr, so stdout stays free for `-h`. */
export function log(s: string): void {
  process.stderr.write(s + '\n');
}
