//! The SP-API transport: Login with Amazon and Restricted Data Tokens, per-operation quotas,
//! retries, and one call (`SpApi::call`) that sends a request to any [`Endpoint`] of
//! `endpoints.rs`. The calls themselves live with their API (`orders.rs`, `mfn.rs`,
//! `shipping.rs`, `messaging.rs`, `reports.rs`). The base URL comes from the config, so the same
//! client talks to Amazon or to the training marketplace. Credentials never appear in logs or
//! error messages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use age::secrecy::{ExposeSecret, SecretString};
use chrono::Utc;
use rand::Rng;
use serde::Deserialize;

use super::endpoints::{self, Auth, Endpoint, Request, Resend, Resource};
use super::throttle::{TokenBucket, UsagePlan};
use super::tokens::TokenCache;

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
    token: TokenCache<()>,
    /// Restricted Data Tokens by the resources they cover ([`Auth::SharedRdt`]).
    rdt: TokenCache<&'static [Resource]>,
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
            token: TokenCache::new(),
            rdt: TokenCache::new(),
            buckets: std::sync::Mutex::new(HashMap::new()),
            shipping_business: Some(endpoints::SHIPPING_BUSINESS_US.to_owned()),
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
        self.token.get_or_fetch((), || self.lwa_token()).await
    }

    /// Asks Login with Amazon for an access token: the token and its lifetime in seconds.
    async fn lwa_token(&self) -> Result<(SecretString, u64), ApiError> {
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
                        operation: endpoints::LWA_TOKEN,
                        host: host.clone(),
                        detail: transport_detail(&e),
                    });
                    continue;
                }
            };
            let status = resp.status();
            if status.as_u16() == 429 || status.is_server_error() {
                last = Some(ApiError::Status {
                    operation: endpoints::LWA_TOKEN,
                    status: status.as_u16(),
                    code: "lwa".into(),
                    message: "Login with Amazon is throttling or failing".into(),
                });
                continue;
            }
            if !status.is_success() {
                return Err(ApiError::Status {
                    operation: endpoints::LWA_TOKEN,
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
                        operation: endpoints::LWA_TOKEN,
                        host: host.clone(),
                        detail: transport_detail(&e),
                    });
                }
            }
        }
        let Some(body) = body else {
            return Err(last.unwrap_or(ApiError::GaveUp {
                operation: endpoints::LWA_TOKEN,
                attempts: MAX_ATTEMPTS,
            }));
        };
        Ok((body.access_token.into(), body.expires_in))
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

    /// Sends `request` to `endpoint` within its quota and reads the answer with `parse`,
    /// resending after failures as the endpoint's [`Resend`] allows, with exponential backoff
    /// and jitter, a bounded number of times.
    pub(crate) async fn call<T>(
        &self,
        endpoint: &Endpoint,
        request: Request<'_>,
        parse: impl Fn(&[u8]) -> Result<T, super::model::ParseError>,
    ) -> Result<T, ApiError> {
        self.call_outcome(endpoint, request, parse).await.0
    }

    /// The HTTP client itself, for a plain download (a report document's presigned URL).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The endpoint's URL under the configured base, with the request's path values and query.
    fn url_of(&self, endpoint: &Endpoint, request: &Request<'_>) -> Result<reqwest::Url, ApiError> {
        let path = endpoint
            .fill(request.path)
            .ok_or_else(|| ApiError::Request {
                operation: endpoint.name,
                detail: "the path's values do not match its template".into(),
            })?;
        let mut url = self
            .endpoint
            .join(&path)
            .map_err(|e| ApiError::Config(format!("[amazon] endpoint cannot take a path: {e}")))?;
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in request.query {
                pairs.append_pair(name, value);
            }
        }
        Ok(url)
    }

    /// The token an endpoint's request carries, asked for after the wait for quota so a token
    /// cached before it has not expired meanwhile.
    async fn token_for(
        &self,
        auth: Auth,
        method: &reqwest::Method,
        url: &reqwest::Url,
    ) -> Result<SecretString, ApiError> {
        match auth {
            Auth::Lwa => self.access_token().await,
            Auth::SharedRdt(scope) => {
                self.access_token().await?;
                self.rdt
                    .get_or_fetch(scope, || async {
                        let resources: Vec<RestrictedResource> =
                            scope.iter().map(RestrictedResource::of).collect();
                        // Boxed: fetching the token is itself a call through here.
                        Box::pin(self.restricted_data_token_for(&resources)).await
                    })
                    .await
            }
            Auth::OwnRdt => {
                let own = RestrictedResource {
                    method: method.as_str().to_owned(),
                    path: url.path().to_owned(),
                    data_elements: Vec::new(),
                };
                Box::pin(self.restricted_data_token(&[own])).await
            }
        }
    }

    /// [`SpApi::call`], also saying whether an earlier attempt may have reached Amazon without
    /// a readable answer (so a refusal of a resend may mean the first attempt went through).
    pub(crate) async fn call_outcome<T>(
        &self,
        endpoint: &Endpoint,
        request: Request<'_>,
        parse: impl Fn(&[u8]) -> Result<T, super::model::ParseError>,
    ) -> (Result<T, ApiError>, bool) {
        let Endpoint {
            name: operation,
            plan,
            auth,
            resend,
            ..
        } = *endpoint;
        let url = match self.url_of(endpoint, &request) {
            Ok(u) => u,
            Err(e) => return (Err(e), false),
        };
        let method = match endpoint.method {
            endpoints::Method::Get => reqwest::Method::GET,
            endpoints::Method::Post => reqwest::Method::POST,
            endpoints::Method::Put => reqwest::Method::PUT,
            endpoints::Method::Delete => reqwest::Method::DELETE,
        };
        let Request { body, headers, .. } = request;
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
            let token = self.token_for(auth, &method, &url).await;
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
                if let Auth::SharedRdt(scope) = auth {
                    self.rdt.forget(&scope).await;
                }
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

impl RestrictedResource {
    fn of(r: &Resource) -> RestrictedResource {
        RestrictedResource {
            method: r.method.as_str().to_owned(),
            path: r.path.to_owned(),
            data_elements: Vec::new(),
        }
    }
}

impl SpApi {
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
        const OP: &str = endpoints::CREATE_RESTRICTED_DATA_TOKEN.name;
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
        let body = serde_json::to_vec(&serde_json::json!({ "restrictedResources": resources }))
            .expect("request serializes");
        self.call(
            &endpoints::CREATE_RESTRICTED_DATA_TOKEN,
            Request::body(&body),
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
