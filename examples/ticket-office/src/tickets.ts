import { customAlphabet } from "nanoid";

/** A sold ticket: its number (1, 2, ... per office) and a code to show at the door. */
export interface Ticket {
  number: number;
  code: string;
}

const code = customAlphabet("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 8);

export function makeTicket(prefix: string, number: number): Ticket {
  return { number, code: `${prefix}-${number}-${code()}` };
}

/** A pause, as a call to a payment service would be: other requests get in meanwhile. */
export function settlePayment(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2));
}
