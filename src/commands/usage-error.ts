/** A mistake in how the CLI was called (exit 2). Its own module: the CLI names it before it loads any command. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
