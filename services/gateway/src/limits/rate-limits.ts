import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config.js';
import { addressKey } from './client-address.js';
import { TokenBuckets } from './token-bucket.js';

/** A 429: the message says who is limited and for how long; the filter sends `Retry-After`. */
export class TooManyRequestsException extends HttpException {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message, HttpStatus.TOO_MANY_REQUESTS);
  }
}

/**
 * The gateway's request rate limits: one token bucket per client address and one per signed-in user. They are
 * kept in this process's memory, so each replica limits on its own (N replicas behind a balancer allow up to N
 * times the configured rate); that bounds floods without a shared store.
 */
@Injectable()
export class RateLimits {
  private readonly addresses: TokenBuckets;
  private readonly users: TokenBuckets;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.addresses = new TokenBuckets({
      perMinute: config.RATE_LIMIT_ADDRESS_PER_MINUTE,
      burst: config.RATE_LIMIT_ADDRESS_BURST,
    });
    this.users = new TokenBuckets({
      perMinute: config.RATE_LIMIT_USER_PER_MINUTE,
      burst: config.RATE_LIMIT_USER_BURST,
    });
  }

  /** Counts a request from this address; a TooManyRequestsException when it is over its limit. */
  address(address: string): TooManyRequestsException | undefined {
    const taken = this.addresses.take(addressKey(address));
    return taken.allowed
      ? undefined
      : new TooManyRequestsException(
          `rate limit: too many requests from your address; retry in ${taken.retryAfterSeconds} s`,
          taken.retryAfterSeconds,
        );
  }

  /** Counts a request of this user; a TooManyRequestsException when they are over their limit. */
  user(userId: string): TooManyRequestsException | undefined {
    const taken = this.users.take(userId.toLowerCase());
    return taken.allowed
      ? undefined
      : new TooManyRequestsException(
          `rate limit: too many requests for your user; retry in ${taken.retryAfterSeconds} s`,
          taken.retryAfterSeconds,
        );
  }
}
