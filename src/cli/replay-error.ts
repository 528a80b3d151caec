/** A request the server refused in a way a replay cannot go on from (one line on stderr). */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}
