//! Token buckets, one per SP-API operation, seeded from Amazon's documented rate and burst.
//! The client asks its bucket before every request and waits when it is empty, so it never sends
//! a request the quota does not allow; the training marketplace enforces the same buckets.

use std::time::{Duration, Instant};

/// Amazon's documented usage plan of an operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsagePlan {
    /// Requests per second, refilled continuously.
    pub rate: f64,
    /// Requests that may be sent at once from a full bucket.
    pub burst: f64,
}

impl UsagePlan {
    pub const SEARCH_ORDERS: UsagePlan = UsagePlan {
        rate: 0.0056,
        burst: 20.0,
    };
    pub const GET_ORDER: UsagePlan = UsagePlan {
        rate: 0.5,
        burst: 30.0,
    };
    pub const CONFIRM_SHIPMENT: UsagePlan = UsagePlan {
        rate: 2.0,
        burst: 10.0,
    };
    pub const CREATE_RESTRICTED_DATA_TOKEN: UsagePlan = UsagePlan {
        rate: 1.0,
        burst: 10.0,
    };
    pub const GET_ELIGIBLE_SHIPMENT_SERVICES: UsagePlan = UsagePlan {
        rate: 6.0,
        burst: 12.0,
    };
    pub const CREATE_SHIPMENT: UsagePlan = UsagePlan {
        rate: 2.0,
        burst: 2.0,
    };
    pub const GET_SHIPMENT: UsagePlan = UsagePlan {
        rate: 1.0,
        burst: 1.0,
    };
    pub const CANCEL_SHIPMENT: UsagePlan = UsagePlan {
        rate: 1.0,
        burst: 1.0,
    };
    /// Every Shipping API v2 operation packline calls (getRates, purchaseShipment,
    /// getShipmentDocuments, cancelShipment, getTracking, getUnmanifestedShipments,
    /// generateCollectionForm, getCollectionForm): 80 a second, burst 100, a bucket each.
    pub const SHIPPING_V2: UsagePlan = UsagePlan {
        rate: 80.0,
        burst: 100.0,
    };
    /// Every Messaging API operation: getMessagingActionsForOrder and each message sent (a
    /// bucket each).
    pub const MESSAGING: UsagePlan = UsagePlan {
        rate: 1.0,
        burst: 5.0,
    };

    /// Reports API 2021-06-30: createReport and getReportDocument one a minute, getReport two a
    /// second, each with a burst of 15.
    pub const CREATE_REPORT: UsagePlan = UsagePlan {
        rate: 0.0167,
        burst: 15.0,
    };
    pub const GET_REPORT: UsagePlan = UsagePlan {
        rate: 2.0,
        burst: 15.0,
    };
    pub const GET_REPORT_DOCUMENT: UsagePlan = UsagePlan {
        rate: 0.0167,
        burst: 15.0,
    };

    /// The plan with time running `scale` times faster (the training marketplace's
    /// `--quota-scale`, so tests need not wait three minutes for a searchOrders token).
    pub fn scaled(self, scale: f64) -> UsagePlan {
        UsagePlan {
            rate: self.rate * scale,
            burst: self.burst,
        }
    }
}

/// A token bucket. Starts full.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    plan: UsagePlan,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(plan: UsagePlan, now: Instant) -> Self {
        TokenBucket {
            plan,
            tokens: plan.burst,
            at: now,
        }
    }

    pub fn plan(&self) -> UsagePlan {
        self.plan
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.plan.rate).min(self.plan.burst);
        self.at = now.max(self.at);
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there (zero if one is).
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 || self.plan.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.plan.rate)
        }
    }

    /// The bucket as it can be kept between processes: tokens and rate, as of `now`.
    pub fn snapshot(&mut self, now: Instant) -> (f64, f64) {
        self.refill(now);
        (self.tokens, self.plan.rate)
    }

    /// A bucket resumed from a snapshot taken `age` ago, so a new process does not start with a
    /// full burst that Amazon's side of the bucket no longer has.
    pub fn resume(
        plan: UsagePlan,
        tokens: f64,
        rate: f64,
        age: std::time::Duration,
        now: Instant,
    ) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            plan.rate
        };
        let tokens = if tokens.is_finite() {
            tokens.clamp(0.0, plan.burst)
        } else {
            0.0
        };
        let mut b = TokenBucket {
            plan: UsagePlan {
                rate,
                burst: plan.burst,
            },
            tokens,
            at: now,
        };
        b.tokens = (b.tokens + age.as_secs_f64() * rate).min(plan.burst);
        b
    }

    /// Re-tunes the rate from Amazon's `x-amzn-RateLimit-Limit` header (requests per second).
    /// A header that is not a positive number is ignored.
    pub fn retune(&mut self, header: &str, now: Instant) {
        if let Ok(rate) = header.trim().parse::<f64>()
            && rate.is_finite()
            && rate > 0.0
        {
            self.refill(now);
            self.plan.rate = rate;
        }
    }

    /// The tokens there as of `now`, read without refilling or taking any (for a screen).
    pub fn tokens_at(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * self.plan.rate).min(self.plan.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            UsagePlan {
                rate: 2.0,
                burst: 3.0,
            },
            t0,
        );
        assert!(b.try_take(t0) && b.try_take(t0) && b.try_take(t0));
        assert!(!b.try_take(t0));
        assert_eq!(b.wait(t0), Duration::from_millis(500));
        assert!(b.try_take(t0 + Duration::from_millis(500)));
    }

    #[test]
    fn resumed_bucket_refills_for_the_time_away() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            UsagePlan {
                rate: 1.0,
                burst: 20.0,
            },
            t0,
        );
        for _ in 0..20 {
            assert!(b.try_take(t0));
        }
        let (tokens, rate) = b.snapshot(t0);
        let mut again = TokenBucket::resume(b.plan(), tokens, rate, Duration::from_secs(3), t0);
        assert!(again.try_take(t0) && again.try_take(t0) && again.try_take(t0));
        assert!(
            !again.try_take(t0),
            "three seconds away bought three requests, not a burst"
        );
    }

    #[test]
    fn retune_from_header() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(UsagePlan::SEARCH_ORDERS, t0);
        b.retune("0.5", t0);
        assert_eq!(b.plan().rate, 0.5);
        b.retune("not a number", t0);
        b.retune("-3", t0);
        assert_eq!(b.plan().rate, 0.5);
    }

    proptest! {
        /// Over any sequence of attempts, what is taken never exceeds burst + rate × elapsed.
        #[test]
        fn never_more_than_the_plan(steps in prop::collection::vec(0u64..2_000, 1..200), rate in 0.01f64..20.0, burst in 1u32..30) {
            let t0 = Instant::now();
            let plan = UsagePlan { rate, burst: f64::from(burst) };
            let mut b = TokenBucket::new(plan, t0);
            let mut now = t0;
            let mut taken = 0u64;
            for ms in steps {
                now += Duration::from_millis(ms);
                if b.try_take(now) { taken += 1; }
                let allowed = f64::from(burst) + rate * now.duration_since(t0).as_secs_f64();
                prop_assert!(taken as f64 <= allowed + 1e-9);
            }
        }
    }
}
