/** Name resolution for outbound safety checks: the A and AAAA addresses of a host. */
export interface Resolver {
  readonly name: string;
  /** Every address the name resolves to (empty when it does not); throws when DNS cannot be asked. */
  resolve(host: string): Promise<string[]>;
}
