//! The Orders API calls: a page of merchant-fulfilled orders (`searchOrders`), one order
//! (`getOrder`), and a package's shipment confirmation (Orders v0 `confirmShipment`).

use chrono::{DateTime, SecondsFormat, Utc};

use super::client::{ApiError, SpApi};
use super::endpoints::{self, Request};
use super::model::{SearchOrdersPage, parse_search_orders};

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
pub const SEARCH_ORDERS: &str = endpoints::SEARCH_ORDERS.name;

/// The datasets packline asks for: what it needs to ship, never `BUYER`.
pub const INCLUDED_DATA: &str = "RECIPIENT,FULFILLMENT,CANCELLATION";

impl SpApi {
    /// One page of Orders v2026-01-01 `searchOrders`, for merchant-fulfilled orders.
    pub async fn search_orders(&self, q: &SearchOrders) -> Result<SearchOrdersPage, ApiError> {
        let fmt = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let marketplaces = q.marketplace_ids.join(",");
        let statuses = q.fulfillment_statuses.join(",");
        let created = q.created_after.as_ref().map(fmt);
        let updated = q.last_updated_after.as_ref().map(fmt);
        let mut query = Vec::new();
        if !q.marketplace_ids.is_empty() {
            query.push(("marketplaceIds", marketplaces.as_str()));
        }
        if let Some(t) = &created {
            query.push(("createdAfter", t.as_str()));
        }
        if let Some(t) = &updated {
            query.push(("lastUpdatedAfter", t.as_str()));
        }
        if !q.fulfillment_statuses.is_empty() {
            query.push(("fulfillmentStatuses", statuses.as_str()));
        }
        query.push(("fulfilledBy", "MERCHANT"));
        query.push(("includedData", INCLUDED_DATA));
        query.push(("maxResultsPerPage", "100"));
        if let Some(t) = &q.pagination_token {
            query.push(("paginationToken", t.as_str()));
        }
        let request = Request {
            query: &query,
            ..Request::default()
        };
        self.call(&endpoints::SEARCH_ORDERS, request, |body| {
            parse_search_orders(body, SEARCH_ORDERS)
        })
        .await
    }

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
        self.get_order_as(order_id, included, super::model::parse_get_order)
            .await
    }

    /// Orders v2026-01-01 `getOrder` for an order a sync set aside: the order, or why packline
    /// still refuses it (never retried as if the answer were damaged).
    pub async fn get_order_checked(
        &self,
        order_id: &crate::domain::OrderId,
    ) -> Result<Result<super::model::ImportedOrder, super::model::SetAside>, ApiError> {
        self.get_order_as(
            order_id,
            INCLUDED_DATA,
            super::model::parse_get_order_checked,
        )
        .await
    }

    /// `getOrder` asking for `included` datasets, its answer read with `parse`.
    async fn get_order_as<T>(
        &self,
        order_id: &crate::domain::OrderId,
        included: &str,
        parse: fn(&[u8], &str) -> Result<T, super::model::ParseError>,
    ) -> Result<T, ApiError> {
        let id = order_id.to_string();
        let request = Request {
            path: &[id.as_str()],
            query: &[("includedData", included)],
            ..Request::default()
        };
        self.call(&endpoints::GET_ORDER, request, |b| {
            parse(b, endpoints::GET_ORDER.name)
        })
        .await
    }

    /// Orders v0 `confirmShipment` (204 on success). Retried like every call: the marketplace
    /// and Amazon accept the same package confirmed twice.
    pub async fn confirm_shipment(
        &self,
        order_id: &crate::domain::OrderId,
        confirmation: &ConfirmShipment,
    ) -> Result<(), ApiError> {
        let id = order_id.to_string();
        let body = serde_json::to_vec(confirmation).expect("confirmation serializes");
        let request = Request {
            path: &[id.as_str()],
            body: Some(&body),
            ..Request::default()
        };
        self.call(&endpoints::CONFIRM_SHIPMENT, request, |_| Ok(()))
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
