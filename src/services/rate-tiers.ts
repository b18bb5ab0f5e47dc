/**
 * Which rate tiers a tenant's keys may use. The operator sets each tenant's fastest tier
 * (`max_rate_tier`); its keys may use that tier and any tier that admits no more per second. A
 * tenant admin choosing a faster tier gets `403`: budgets are the operator's to grant.
 */
import type { Config, RateTier } from "../config";
import { AppError } from "../errors";

/** Tiers no tenant key may carry: they meter the operator and unauthenticated callers. */
const RESERVED = new Set(["operator", "anonymous"]);

const rateOf = (tier: RateTier) => tier.limit / tier.window_s;

/** Names of the tiers a key can be given at all (configured, not reserved). */
export function tenantTiers(config: Config): string[] {
  return Object.keys(config.rateTiers).filter((name) => !RESERVED.has(name));
}

/** A tier name a key could carry, or `422` listing the ones there are. */
export function knownTier(config: Config, name: string, path: string): RateTier {
  const tier = RESERVED.has(name) ? undefined : config.rateTiers[name];
  if (!tier) {
    throw new AppError("validation_failed", `Unknown rate tier "${name}".`, {
      errors: [{ path, message: `must be one of: ${tenantTiers(config).join(", ")}` }],
    });
  }
  return tier;
}

export interface TierPolicy {
  /** The tenant's fastest tier (its own setting, or RATE_LIMIT_DEFAULT_TIER). */
  max: string;
  /** The tier a new key gets when it names none: the default tier, unless that is above `max`. */
  fallback: string;
  allows(name: string): boolean;
}

export function tierPolicy(config: Config, maxRateTier: string | null): TierPolicy {
  // A tenant whose maximum was removed from RATE_LIMIT_TIERS falls back to the default tier.
  const max = maxRateTier !== null && config.rateTiers[maxRateTier] ? maxRateTier : config.defaultRateTier;
  const ceiling = rateOf(config.rateTiers[max] ?? { limit: 0, window_s: 1 });
  const allows = (name: string) => {
    const tier = RESERVED.has(name) ? undefined : config.rateTiers[name];
    return tier !== undefined && rateOf(tier) <= ceiling;
  };
  return { max, fallback: allows(config.defaultRateTier) ? config.defaultRateTier : max, allows };
}

/** The tier for a new key of a tenant: `422` for an unknown one, `403` for one above the tenant's maximum. */
export function tierForKey(config: Config, policy: TierPolicy, requested: string | undefined): string {
  if (requested === undefined) {
    return policy.fallback;
  }
  knownTier(config, requested, "rate_tier");
  if (!policy.allows(requested)) {
    throw new AppError(
      "forbidden",
      `The rate tier "${requested}" is above this tenant's maximum ("${policy.max}"); the operator sets it.`,
    );
  }
  return requested;
}
