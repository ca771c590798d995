//! Tokens: Login with Amazon's token endpoint (any client and refresh token are accepted) and the
//! Tokens API's `createRestrictedDataToken`, whose tokens the restricted operations check.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use packline_spapi::endpoints::{self, Endpoint};
use packline_spapi::throttle::UsagePlan;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::market::{self, Market, Shared, admit, lock, logged, sp_error};

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Login with Amazon documents no usage plan; this one only names the rate header of its
/// answers.
const LWA_TOKEN: UsagePlan = UsagePlan {
    rate: 1.0,
    burst: 10.0,
};

/// Login with Amazon: any client id, secret and refresh token are accepted. Injected faults
/// apply here too (the token endpoint fails like any other).
pub(crate) async fn token(State(m): State<Shared>, Form(f): Form<TokenForm>) -> Response {
    let params = HashMap::from([(
        "grant_type".to_owned(),
        f.grant_type.clone().unwrap_or_default(),
    )]);
    market::serve(m, endpoints::LWA_TOKEN, LWA_TOKEN, params, move |market| {
        (token_answer(market, &f), vec![])
    })
    .await
}

fn token_answer(market: &mut Market, f: &TokenForm) -> Response {
    let ok = f.grant_type.as_deref() == Some("refresh_token")
        && f.refresh_token.as_deref().is_some_and(|s| !s.is_empty())
        && f.client_id.as_deref().is_some_and(|s| !s.is_empty())
        && f.client_secret.as_deref().is_some_and(|s| !s.is_empty());
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "invalid_request",
                "error_description": "grant_type=refresh_token, refresh_token, client_id and client_secret are required"
            })),
        )
            .into_response();
    }
    market.tokens_issued += 1;
    Json(json!({
        "access_token": format!("Atza|training-{}", market.tokens_issued),
        "refresh_token": f.refresh_token,
        "token_type": "bearer",
        "expires_in": 3600
    }))
    .into_response()
}

/// Tokens API `createRestrictedDataToken`: any well-formed request gets a training token.
pub(crate) async fn restricted_data_token(
    State(m): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut guard = lock(&m);
    let market = &mut *guard;
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let scopes: Vec<(String, String)> = parsed
        .as_ref()
        .and_then(|v| v["restrictedResources"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let method = r["method"]
                        .as_str()
                        .filter(|m| matches!(*m, "GET" | "PUT" | "POST" | "DELETE"))?;
                    Some((method.to_owned(), r["path"].as_str()?.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let resources: Vec<String> = scopes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    let params = HashMap::from([("restrictedResources".to_owned(), resources.join(","))]);
    const OP: Endpoint = endpoints::CREATE_RESTRICTED_DATA_TOKEN;
    if let Some(refused) = admit(market, &headers, OP.name, OP.plan) {
        return logged(market, OP.name, params, refused);
    }
    let response = if resources.is_empty() || resources.len() > 50 {
        sp_error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "restrictedResources needs 1 to 50 entries, each with a method and a path.",
        )
    } else {
        market.tokens_issued += 1;
        let token = format!("Atz.sprdt|training-{}", market.tokens_issued);
        market.rdt_scopes.insert(token.clone(), scopes);
        Json(json!({
            "restrictedDataToken": token,
            "expiresIn": 3600
        }))
        .into_response()
    };
    logged(market, OP.name, params, response)
}
