//! The SP-API client: Login with Amazon tokens, per-operation quotas, retries, and the calls
//! packline makes. Endpoints come from the config, so the same client talks to Amazon or to the
//! training marketplace. Credentials never appear in logs or error messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use age::secrecy::{ExposeSecret, SecretString};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde::Deserialize;

use super::model::{SearchOrdersPage, parse_search_orders};
use super::throttle::{TokenBucket, UsagePlan};

/// What can go wrong talking to Amazon. No variant carries a credential or personal data.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("amazon config: {0}")]
    Config(String),
    #[error("{operation}: cannot reach {host}: {detail}")]
    Transport {
        operation: &'static str,
        host: String,
        detail: String,
    },
    #[error("{operation}: Amazon answered {status} {code}: {message}")]
    Status {
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{operation}: still throttled or failing after {attempts} attempts; try again later")]
    GaveUp {
        operation: &'static str,
        attempts: u32,
    },
    /// The request may have reached Amazon, but no readable answer came back (a timeout, a
    /// dropped connection, a 5xx, an unreadable success). For a purchase this means the label
    /// may have been bought: find out before buying again.
    #[error(
        "{operation}: the outcome is unknown ({detail}); Amazon may have acted on it: check before trying again"
    )]
    OutcomeUnknown {
        operation: &'static str,
        detail: String,
    },
    /// packline would not send this request (it names the problem, never a value).
    #[error("{operation}: request not sent: {detail}")]
    Request {
        operation: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Parse(#[from] super::model::ParseError),
}

/// Which token a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The LWA access token.
    Lwa,
    /// A Restricted Data Token for the MFN operations that return the ship-to address.
    MfnRdt,
    /// A Restricted Data Token for this request alone (its method and path), asked for it:
    /// a restricted report's document.
    OwnRdt,
}

/// When a request may be sent again after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Reads and idempotent writes: throttling, server errors, timeouts and unreadable answers
    /// are retried.
    Always,
    /// Purchases: only when Amazon surely did not act on it (a 429, or a connection that failed
    /// before the request went out); anything else is [`ApiError::OutcomeUnknown`].
    OnlyIfUnsent,
}

/// LWA credentials. `Debug` shows the client id only.
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ client_id: {:?}, <secrets redacted> }}",
            self.client_id
        )
    }
}

impl Credentials {
    /// From `PACKLINE_LWA_CLIENT_ID`, `PACKLINE_LWA_CLIENT_SECRET`, `PACKLINE_LWA_REFRESH_TOKEN`.
    pub fn from_env() -> Option<Credentials> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Credentials {
            client_id: get("PACKLINE_LWA_CLIENT_ID")?,
            client_secret: get("PACKLINE_LWA_CLIENT_SECRET")?.into(),
            refresh_token: get("PACKLINE_LWA_REFRESH_TOKEN")?.into(),
        })
    }
}

/// Refuses plain HTTP except to a loopback address (the training marketplace).
pub fn check_url(what: &str, url: &str) -> Result<reqwest::Url, ApiError> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| ApiError::Config(format!("{what} {url:?} is not a URL: {e}")))?;
    match u.scheme() {
        "https" => Ok(u),
        "http" => {
            let loopback = match u.host() {
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            if loopback {
                Ok(u)
            } else {
                Err(ApiError::Config(format!(
                    "{what} {url:?} uses plain http: only https is allowed, except to a loopback address"
                )))
            }
        }
        other => Err(ApiError::Config(format!(
            "{what} {url:?}: scheme {other} is not https"
        ))),
    }
}

/// A searchOrders request (the parameters packline varies).
#[derive(Clone, Debug, Default)]
pub struct SearchOrders {
    pub marketplace_ids: Vec<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub last_updated_after: Option<DateTime<Utc>>,
    pub fulfillment_statuses: Vec<&'static str>,
    pub pagination_token: Option<String>,
}

/// The operation name of searchOrders, as buckets and errors name it.
pub const SEARCH_ORDERS: &str = "searchOrders";

/// The datasets packline asks for: what it needs to ship, never `BUYER`.
pub const INCLUDED_DATA: &str = "RECIPIENT,FULFILLMENT,CANCELLATION";

const MAX_ATTEMPTS: u32 = 5;

/// The client refills its buckets at this share of the published rate: Amazon's bucket starts a
/// little after ours (the first request's travel time), and keeping under the rate means that
/// difference never tips a request over the quota.
const RATE_SHARE: f64 = 0.9;

pub struct SpApi {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    token_url: reqwest::Url,
    creds: Credentials,
    token: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
    /// The Restricted Data Token for the MFN operations, cached until shortly before it expires.
    mfn_rdt: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
    buckets: std::sync::Mutex<HashMap<&'static str, TokenBucket>>,
    /// The Amazon shipping business of Shipping API v2 requests (`x-amzn-shipping-business-id`);
    /// none for a marketplace without one of its own (see `shipping::business_of_marketplace`).
    shipping_business: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct ErrorList {
    errors: Vec<ErrorBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

impl SpApi {
    pub fn new(
        endpoint: &str,
        token_url: &str,
        creds: Credentials,
        timeout: Duration,
    ) -> Result<SpApi, ApiError> {
        let endpoint = check_url("[amazon] endpoint", endpoint)?;
        let token_url = check_url("[amazon] token_url", token_url)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "packline/",
                env!("CARGO_PKG_VERSION"),
                " (Language=Rust)"
            ))
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .timeout(timeout)
            .build()
            .map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        Ok(SpApi {
            http,
            endpoint,
            token_url,
            creds,
            token: tokio::sync::Mutex::new(None),
            mfn_rdt: tokio::sync::Mutex::new(None),
            buckets: std::sync::Mutex::new(HashMap::new()),
            shipping_business: Some(super::shipping::BUSINESS_US.to_owned()),
        })
    }

    /// The client with Shipping API v2 requests for this Amazon shipping business (none: the
    /// site has none, and such requests are refused naming the setting).
    pub fn with_shipping_business(mut self, business: Option<String>) -> SpApi {
        self.shipping_business = business;
        self
    }

    /// The Amazon shipping business Shipping API v2 requests are sent for.
    pub fn shipping_business(&self) -> Option<&str> {
        self.shipping_business.as_deref()
    }

    /// An LWA access token, cached until a minute before it expires.
    async fn access_token(&self) -> Result<SecretString, ApiError> {
        let mut cached = self.token.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let host = self.token_url.host_str().unwrap_or_default().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.creds.refresh_token.expose_secret()),
            ("client_id", self.creds.client_id.as_str()),
            ("client_secret", self.creds.client_secret.expose_secret()),
        ];
        // Login with Amazon fails like any service: a throttled, failing, slow or damaged
        // answer is asked again (a token costs nothing twice); refused credentials are not.
        let mut last = None;
        let mut body = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let base = 0.5 * f64::from(1u32 << attempt.min(6));
                let jitter = rand::thread_rng().gen_range(0.0..base);
                tokio::time::sleep(Duration::from_secs_f64(base + jitter)).await;
            }
            let resp = match self
                .http
                .post(self.token_url.clone())
                .form(&form)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    last = Some(ApiError::Transport {
                        operation: "lwaToken",
                        host: host.clone(),
                        detail: transport_detail(&e),
                    });
                    continue;
                }
            };
            let status = resp.status();
            if status.as_u16() == 429 || status.is_server_error() {
                last = Some(ApiError::Status {
                    operation: "lwaToken",
                    status: status.as_u16(),
                    code: "lwa".into(),
                    message: "Login with Amazon is throttling or failing".into(),
                });
                continue;
            }
            if !status.is_success() {
                return Err(ApiError::Status {
                    operation: "lwaToken",
                    status: status.as_u16(),
                    code: "lwa".into(),
                    message: "Login with Amazon refused the credentials".into(),
                });
            }
            match resp.json::<TokenResponse>().await {
                Ok(b) => {
                    body = Some(b);
                    break;
                }
                Err(e) => {
                    last = Some(ApiError::Transport {
                        operation: "lwaToken",
                        host: host.clone(),
                        detail: transport_detail(&e),
                    });
                }
            }
        }
        let Some(body) = body else {
            return Err(last.unwrap_or(ApiError::GaveUp {
                operation: "lwaToken",
                attempts: MAX_ATTEMPTS,
            }));
        };
        let lifetime = Duration::from_secs(body.expires_in.saturating_sub(60));
        let token: SecretString = body.access_token.into();
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Waits until the operation's bucket allows one more request, then takes it.
    async fn acquire(&self, operation: &'static str, plan: UsagePlan) {
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let b = buckets.entry(operation).or_insert_with(|| {
                    TokenBucket::new(
                        UsagePlan {
                            rate: plan.rate * RATE_SHARE,
                            burst: plan.burst,
                        },
                        now,
                    )
                });
                if b.try_take(now) {
                    return;
                }
                b.wait(now)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The state of an operation's bucket, to keep between runs: (tokens, rate per second).
    pub fn bucket_state(&self, operation: &'static str) -> Option<(f64, f64)> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .get_mut(operation)
            .map(|b| b.snapshot(Instant::now()))
    }

    /// The state of an operation's bucket as it will be once the next request has taken its
    /// token (the bucket made as the first request would make it): what to keep before that
    /// request is sent, so a process killed while it is in flight still counts it.
    pub fn bucket_state_after_next(&self, operation: &'static str, plan: UsagePlan) -> (f64, f64) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let b = buckets.entry(operation).or_insert_with(|| {
            TokenBucket::new(
                UsagePlan {
                    rate: plan.rate * RATE_SHARE,
                    burst: plan.burst,
                },
                now,
            )
        });
        let (tokens, rate) = b.snapshot(now);
        ((tokens - 1.0).max(0.0), rate)
    }

    /// Resumes an operation's bucket from the state a previous run kept `age` ago.
    pub fn resume_bucket(
        &self,
        operation: &'static str,
        plan: UsagePlan,
        tokens: f64,
        rate: f64,
        age: Duration,
    ) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.insert(
            operation,
            TokenBucket::resume(plan, tokens, rate, age, Instant::now()),
        );
    }

    fn retune(&self, operation: &'static str, headers: &reqwest::header::HeaderMap) {
        if let Some(v) = headers
            .get("x-amzn-RateLimit-Limit")
            .and_then(|v| v.to_str().ok())
        {
            let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            if let (Some(b), Ok(rate)) = (buckets.get_mut(operation), v.trim().parse::<f64>()) {
                b.retune(&(rate * RATE_SHARE).to_string(), Instant::now());
            }
        }
    }

    /// One page of Orders v2026-01-01 `searchOrders`, for merchant-fulfilled orders.
    pub async fn search_orders(&self, q: &SearchOrders) -> Result<SearchOrdersPage, ApiError> {
        const OP: &str = SEARCH_ORDERS;
        let mut url = self
            .endpoint
            .join("/orders/2026-01-01/orders")
            .map_err(|e| ApiError::Config(format!("[amazon] endpoint cannot take a path: {e}")))?;
        {
            let mut p = url.query_pairs_mut();
            if !q.marketplace_ids.is_empty() {
                p.append_pair("marketplaceIds", &q.marketplace_ids.join(","));
            }
            let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
            if let Some(t) = &q.created_after {
                p.append_pair("createdAfter", &fmt(t));
            }
            if let Some(t) = &q.last_updated_after {
                p.append_pair("lastUpdatedAfter", &fmt(t));
            }
            if !q.fulfillment_statuses.is_empty() {
                p.append_pair("fulfillmentStatuses", &q.fulfillment_statuses.join(","));
            }
            p.append_pair("fulfilledBy", "MERCHANT");
            p.append_pair("includedData", INCLUDED_DATA);
            p.append_pair("maxResultsPerPage", "100");
            if let Some(t) = &q.pagination_token {
                p.append_pair("paginationToken", t);
            }
        }
        self.call(OP, UsagePlan::SEARCH_ORDERS, url, |body| {
            parse_search_orders(body, OP)
        })
        .await
    }

    /// Sends a GET within the quota and reads the answer with `parse`, retrying throttling,
    /// server errors, timeouts and unreadable (malformed or truncated) answers with exponential
    /// backoff and jitter, a bounded number of times.
    async fn call<T>(
        &self,
        operation: &'static str,
        plan: UsagePlan,
        url: reqwest::Url,
        parse: impl Fn(&[u8]) -> Result<T, super::model::ParseError>,
    ) -> Result<T, ApiError> {
        self.send(operation, plan, reqwest::Method::GET, url, None, parse)
            .await
    }

    /// Sends a request with an optional JSON body; see [`Self::call`].
    async fn send<T>(
        &self,
        operation: &'static str,
        plan: UsagePlan,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&[u8]>,
        parse: impl Fn(&[u8]) -> Result<T, super::model::ParseError>,
    ) -> Result<T, ApiError> {
        self.send_with(
            operation,
            plan,
            method,
            url,
            body,
            Auth::Lwa,
            Resend::Always,
            parse,
        )
        .await
        .0
    }

    pub(crate) fn endpoint(&self) -> &reqwest::Url {
        &self.endpoint
    }

    /// The HTTP client itself, for a plain download (a report document's presigned URL).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The Restricted Data Token for the MFN operations, from the cache or the Tokens API.
    async fn mfn_rdt(&self) -> Result<SecretString, ApiError> {
        let mut cached = self.mfn_rdt.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let (token, expires_in) = self
            .restricted_data_token_for(&super::mfn::restricted_resources())
            .await?;
        let lifetime = Duration::from_secs(expires_in.saturating_sub(60));
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// Sends a request within the quota with the token `auth` names, resending after failures as
    /// `resend` allows, with exponential backoff and jitter. Also says whether an earlier attempt
    /// may have reached Amazon without a readable answer (so a refusal of a resend may mean the
    /// first attempt went through).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_with<T>(
        &self,
        operation: &'static str,
        plan: UsagePlan,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&[u8]>,
        auth: Auth,
        resend: Resend,
        parse: impl Fn(&[u8]) -> Result<T, super::model::ParseError>,
    ) -> (Result<T, ApiError>, bool) {
        self.send_headers(operation, plan, method, url, body, &[], auth, resend, parse)
            .await
    }

    /// [`SpApi::send_with`] with extra request headers (an idempotency key, the shipping
    /// business), sent the same on every attempt.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_headers<T>(
        &self,
        operation: &'static str,
        plan: UsagePlan,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<&[u8]>,
        headers: &[(&'static str, String)],
        auth: Auth,
        resend: Resend,
        parse: impl Fn(&[u8]) -> Result<T, super::model::ParseError>,
    ) -> (Result<T, ApiError>, bool) {
        let mut last_parse_error = None;
        let mut after_unknown = false;
        let mut rdt_renewed = false;
        let host = url.host_str().unwrap_or_default().to_owned();
        let unknown = |detail: String| ApiError::OutcomeUnknown { operation, detail };
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let base = 0.5 * f64::from(1u32 << attempt.min(6));
                let jitter = rand::thread_rng().gen_range(0.0..base);
                tokio::time::sleep(Duration::from_secs_f64(base + jitter)).await;
            }
            self.acquire(operation, plan).await;
            // After the wait for quota, so a token cached before it has not expired meanwhile.
            let token = match auth {
                Auth::Lwa => self.access_token().await,
                Auth::MfnRdt => match self.access_token().await {
                    // Boxed: fetching the token is itself a call through here.
                    Ok(_) => Box::pin(self.mfn_rdt()).await,
                    Err(e) => Err(e),
                },
                Auth::OwnRdt => {
                    let own = RestrictedResource {
                        method: method.as_str().to_owned(),
                        path: url.path().to_owned(),
                        data_elements: Vec::new(),
                    };
                    Box::pin(self.restricted_data_token(&[own])).await
                }
            };
            let token = match token {
                Ok(t) => t,
                Err(e) => return (Err(e), after_unknown),
            };
            let mut request = self.http.request(method.clone(), url.clone());
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            if let Some(b) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(b.to_vec());
            }
            let resp = match request
                .header("x-amz-access-token", token.expose_secret())
                .header(
                    "x-amz-date",
                    Utc::now().format("%Y%m%dT%H%M%SZ").to_string(),
                )
                .send()
                .await
            {
                Ok(r) => r,
                // A connection that was never made carried no request: safe to send again.
                Err(e) if e.is_connect() => {
                    tracing::warn!(operation, attempt, "{}", transport_detail(&e));
                    continue;
                }
                Err(e) if e.is_builder() => {
                    return (
                        Err(ApiError::Request {
                            operation,
                            detail: "the request could not be built".into(),
                        }),
                        after_unknown,
                    );
                }
                Err(e) if resend == Resend::OnlyIfUnsent => {
                    return (Err(unknown(transport_detail(&e))), true);
                }
                Err(e) if e.is_timeout() || e.is_request() => {
                    tracing::warn!(
                        operation,
                        attempt,
                        "transport error: {}",
                        transport_detail(&e)
                    );
                    after_unknown = true;
                    continue;
                }
                Err(e) => {
                    return (
                        Err(ApiError::Transport {
                            operation,
                            host,
                            detail: transport_detail(&e),
                        }),
                        after_unknown,
                    );
                }
            };
            self.retune(operation, resp.headers());
            let status = resp.status();
            let bytes = match resp.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    if resend == Resend::OnlyIfUnsent && status.as_u16() != 429 {
                        return (
                            Err(unknown(format!(
                                "reading the answer: {}",
                                transport_detail(&e)
                            ))),
                            true,
                        );
                    }
                    tracing::warn!(
                        operation,
                        attempt,
                        "reading the body: {}",
                        transport_detail(&e)
                    );
                    after_unknown = true;
                    continue;
                }
            };
            if status.is_success() {
                match parse(&bytes) {
                    Ok(v) => return (Ok(v), after_unknown),
                    Err(e) if resend == Resend::OnlyIfUnsent => {
                        return (Err(unknown(format!("unreadable answer: {e}"))), true);
                    }
                    Err(e) => {
                        tracing::warn!(operation, attempt, "unreadable answer, retrying: {e}");
                        last_parse_error = Some(e);
                        after_unknown = true;
                        continue;
                    }
                }
            }
            if status.as_u16() == 429 {
                tracing::warn!(operation, attempt, "throttled, retrying");
                continue;
            }
            if status.is_server_error() {
                if resend == Resend::OnlyIfUnsent {
                    return (
                        Err(unknown(format!("Amazon answered {}", status.as_u16()))),
                        true,
                    );
                }
                tracing::warn!(operation, attempt, status = status.as_u16(), "retrying");
                after_unknown = true;
                continue;
            }
            // A refused Restricted Data Token (expired early, or revoked) was refused before
            // anything was done: renew it once and send again.
            if status.as_u16() == 403 && auth != Auth::Lwa && !rdt_renewed {
                rdt_renewed = true;
                *self.mfn_rdt.lock().await = None;
                continue;
            }
            let (code, message) = serde_json::from_slice::<ErrorList>(&bytes)
                .ok()
                .and_then(|l| l.errors.into_iter().next())
                .map(|e| (e.code, e.message))
                .unwrap_or_else(|| ("Unknown".into(), "no SP-API error body".into()));
            return (
                Err(ApiError::Status {
                    operation,
                    status: status.as_u16(),
                    code,
                    message,
                }),
                after_unknown,
            );
        }
        let err = match last_parse_error {
            Some(e) => ApiError::Parse(e),
            None => ApiError::GaveUp {
                operation,
                attempts: MAX_ATTEMPTS,
            },
        };
        (Err(err), after_unknown)
    }

    /// An operation's bucket as it stands, read without taking or refilling a token: (tokens,
    /// burst, rate per second); none before the operation's first request.
    pub fn quota(&self, operation: &str) -> Option<(f64, f64, f64)> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.get(operation).map(|b| {
            let plan = b.plan();
            (b.tokens_at(Instant::now()), plan.burst, plan.rate)
        })
    }
}

/// A restricted resource for the Tokens API: an HTTP method and path (and, for some Orders
/// operations, the kinds of personal data wanted).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestrictedResource {
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_elements: Vec<String>,
}

impl SpApi {
    /// Orders v2026-01-01 `getOrder`, with the datasets packline asks for.
    pub async fn get_order(
        &self,
        order_id: &crate::domain::OrderId,
    ) -> Result<super::model::ImportedOrder, ApiError> {
        self.get_order_with(order_id, INCLUDED_DATA).await
    }

    /// Orders v2026-01-01 `getOrder` for an order packline never imported, which a return, an
    /// inquiry or a message names: its status, lines and dates only (`includedData=FULFILLMENT`:
    /// no recipient is asked for, as none is kept). Within getOrder's quota, like every call.
    pub async fn get_order_without_recipient(
        &self,
        order_id: &crate::domain::OrderId,
    ) -> Result<super::model::ImportedOrder, ApiError> {
        self.get_order_with(order_id, "FULFILLMENT").await
    }

    /// `getOrder` asking for `included` datasets, within its quota.
    async fn get_order_with(
        &self,
        order_id: &crate::domain::OrderId,
        included: &str,
    ) -> Result<super::model::ImportedOrder, ApiError> {
        const OP: &str = "getOrder";
        let mut url = self
            .endpoint
            .join(&format!("/orders/2026-01-01/orders/{order_id}"))
            .map_err(|e| ApiError::Config(format!("[amazon] endpoint cannot take a path: {e}")))?;
        url.query_pairs_mut().append_pair("includedData", included);
        self.call(OP, UsagePlan::GET_ORDER, url, |b| {
            super::model::parse_get_order(b, OP)
        })
        .await
    }

    /// Orders v2026-01-01 `getOrder` for an order a sync set aside: the order, or why packline
    /// still refuses it (never retried as if the answer were damaged).
    pub async fn get_order_checked(
        &self,
        order_id: &crate::domain::OrderId,
    ) -> Result<Result<super::model::ImportedOrder, super::model::SetAside>, ApiError> {
        const OP: &str = "getOrder";
        let mut url = self
            .endpoint
            .join(&format!("/orders/2026-01-01/orders/{order_id}"))
            .map_err(|e| ApiError::Config(format!("[amazon] endpoint cannot take a path: {e}")))?;
        url.query_pairs_mut()
            .append_pair("includedData", INCLUDED_DATA);
        self.call(OP, UsagePlan::GET_ORDER, url, |b| {
            super::model::parse_get_order_checked(b, OP)
        })
        .await
    }

    /// Tokens API `createRestrictedDataToken`: a short-lived token for the restricted
    /// operations named, to send instead of the access token. It is a secret like the others.
    pub async fn restricted_data_token(
        &self,
        resources: &[RestrictedResource],
    ) -> Result<SecretString, ApiError> {
        Ok(self.restricted_data_token_for(resources).await?.0)
    }

    /// `createRestrictedDataToken`, with the token's lifetime in seconds.
    async fn restricted_data_token_for(
        &self,
        resources: &[RestrictedResource],
    ) -> Result<(SecretString, u64), ApiError> {
        const OP: &str = "createRestrictedDataToken";
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Rdt {
            restricted_data_token: String,
            /// Optional in the model; an RDT lives an hour.
            #[serde(default = "an_hour")]
            expires_in: u64,
        }
        fn an_hour() -> u64 {
            3600
        }
        let url = self
            .endpoint
            .join("/tokens/2021-03-01/restrictedDataToken")
            .map_err(|e| ApiError::Config(format!("[amazon] endpoint cannot take a path: {e}")))?;
        let body = serde_json::to_vec(&serde_json::json!({ "restrictedResources": resources }))
            .expect("request serializes");
        self.send(
            OP,
            UsagePlan::CREATE_RESTRICTED_DATA_TOKEN,
            reqwest::Method::POST,
            url,
            Some(&body),
            |b| {
                serde_json::from_slice::<Rdt>(b)
                    .map(|r| (SecretString::from(r.restricted_data_token), r.expires_in))
                    .map_err(|_| super::model::ParseError::Json {
                        source_name: OP.to_owned(),
                        detail: "not a CreateRestrictedDataTokenResponse".into(),
                    })
            },
        )
        .await
    }
}

/// A shipment confirmation (Orders v0 `confirmShipment`): one package of an order.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipment {
    pub marketplace_id: String,
    pub package_detail: PackageDetail,
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    pub package_reference_id: String,
    pub carrier_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    pub ship_date: String,
    pub order_items: Vec<ConfirmItem>,
}

impl ConfirmShipment {
    /// The confirmation of one package of an order: its own number as the package reference
    /// (the same on a retry, so Amazon sees the same package, never another one), its carrier
    /// and tracking number, and its items with their Transparency codes.
    pub fn of_package(
        marketplace_id: &str,
        package: &crate::domain::Package,
        carrier: &crate::domain::Carrier,
        tracking: &crate::domain::TrackingNumber,
        shipping_method: Option<String>,
        now: DateTime<Utc>,
    ) -> ConfirmShipment {
        ConfirmShipment {
            marketplace_id: marketplace_id.to_owned(),
            package_detail: PackageDetail {
                package_reference_id: package.number.to_string(),
                carrier_code: carrier.amazon_code().to_owned(),
                carrier_name: matches!(carrier, crate::domain::Carrier::Other(_))
                    .then(|| carrier.name().to_owned()),
                shipping_method,
                tracking_number: tracking.to_string(),
                ship_date: now.to_rfc3339_opts(SecondsFormat::Secs, true),
                order_items: package
                    .items
                    .iter()
                    .map(|i| ConfirmItem {
                        order_item_id: i.item_id.clone(),
                        quantity: i.quantity,
                        transparency_codes: i.codes_of(crate::domain::CodeKind::Transparency),
                    })
                    .collect(),
            },
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmItem {
    pub order_item_id: String,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transparency_codes: Vec<String>,
}

impl SpApi {
    /// Orders v0 `confirmShipment` (204 on success). Retried like every call: the marketplace
    /// and Amazon accept the same package confirmed twice.
    pub async fn confirm_shipment(
        &self,
        order_id: &crate::domain::OrderId,
        confirmation: &ConfirmShipment,
    ) -> Result<(), ApiError> {
        const OP: &str = "confirmShipment";
        let url = self
            .endpoint
            .join(&format!(
                "/orders/v0/orders/{order_id}/shipmentConfirmation"
            ))
            .map_err(|e| ApiError::Config(format!("[amazon] endpoint cannot take a path: {e}")))?;
        let body = serde_json::to_vec(confirmation).expect("confirmation serializes");
        self.send(
            OP,
            UsagePlan::CONFIRM_SHIPMENT,
            reqwest::Method::POST,
            url,
            Some(&body),
            |_| Ok(()),
        )
        .await
    }
}

/// A transport error without the URL (whose query could carry anything) or any header.
pub(crate) fn transport_detail(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() {
        "unreadable response"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_url("e", "https://sellingpartnerapi-na.amazon.com").is_ok());
        assert!(check_url("e", "http://127.0.0.1:8080").is_ok());
        assert!(check_url("e", "http://[::1]:8080").is_ok());
        assert!(check_url("e", "http://localhost:1").is_ok());
        let err = check_url("e", "http://sellingpartnerapi-na.amazon.com").unwrap_err();
        assert!(err.to_string().contains("only https"), "{err}");
        assert!(check_url("e", "ftp://x").is_err());
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = Credentials {
            client_id: "amzn1.application-oa2-client.x".into(),
            client_secret: "very-secret".to_owned().into(),
            refresh_token: "Atzr|refresh".to_owned().into(),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("very-secret") && !d.contains("Atzr"));
    }
}
