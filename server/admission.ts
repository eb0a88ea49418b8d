/**
 * Who gets in: the decision for one upgraded socket once its token was checked. Pure, so every
 * branch is tested without sockets.
 * @module
 */
import type { Claims } from "./auth.ts";
import { AuthError } from "./errors.ts";
import { type CloseEntry, CLOSES, parseSensorIds } from "../protocol/mod.ts";

/** What the server knows when it decides. */
export interface AdmissionInput {
  /** The token's claims, or why it was refused. */
  verdict: Claims | AuthError;
  /** `?sensors=` as given; `null` = all. */
  sensorsParam: string | null;
  /** Clients connected now. */
  clients: number;
  /** Most clients allowed. */
  maxClients: number;
}

/** The decision. */
export type Admission =
  | {
    admitted: true;
    claims: Claims;
    /** Initial subscriptions; `null` = all the token allows. */
    subscriptions: string[] | null;
    /** Sensors asked for in `?sensors=` that the token's `sensors` claim excludes. */
    denied: string[];
  }
  | {
    admitted: false;
    /** How the client is closed. */
    close: CloseEntry;
    /** For the operator's log (never the token). */
    detail: string;
  };

/** Decides whether a client with a checked token is admitted, and with which subscriptions. */
export function decideAdmission(input: AdmissionInput): Admission {
  const { verdict } = input;
  if (verdict instanceof AuthError) {
    return {
      admitted: false,
      close: verdict.close,
      detail: verdict.message,
    };
  }
  const wanted = input.sensorsParam === null ? undefined : parseSensorIds(input.sensorsParam);
  if (wanted?.bad !== undefined) {
    return {
      admitted: false,
      close: CLOSES.INVALID_SENSORS,
      detail: "?sensors= names an invalid sensor id",
    };
  }
  if (input.clients >= input.maxClients) {
    return {
      admitted: false,
      close: CLOSES.SERVER_FULL,
      detail: `${input.clients} clients connected (the client limit)`,
    };
  }
  const ids = wanted && wanted.ids.length > 0 ? wanted.ids : null;
  const allowed = verdict.sensors;
  return {
    admitted: true,
    claims: verdict,
    subscriptions: ids,
    denied: allowed && ids ? ids.filter((s) => !allowed.has(s)) : [],
  };
}
