/** Events the counter server sends (name -> payload), for the typed client. */
export interface CounterServerEvents {
  [event: string]: unknown;
  count: { count: number; by: string; instance: string };
  presence: { users: string[] };
}
