/** Not a route file: proves relative `.js` imports of `.ts` helpers resolve. */
export function shout(text: string): string {
  return text.toUpperCase();
}
