//! `[shipping]`: the seller's name and ship-from, the Buy Shipping API, label formats and
//! printers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Labels, slips and printers.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingConfig {
    /// The seller's name, printed on packing slips.
    pub seller_name: Option<String>,
    /// Where parcels ship from (needed to buy labels).
    pub from: Option<ShipFrom>,
    /// Label format asked of Amazon: `ZPL203` (thermal), `PDF` or `PNG`.
    pub label_format: Option<String>,
    /// Default printers (URIs: socket://HOST:9100, ipp://HOST:PORT/PATH, cups:QUEUE, file:/DIR).
    pub label_printer: Option<String>,
    pub slip_printer: Option<String>,
    /// Per-user printers, overriding the defaults: `[shipping.users.sam] label_printer = "..."`.
    #[serde(default)]
    pub users: BTreeMap<String, UserPrinters>,
    /// Named printers a terminal or a request may choose (`--printer NAME`). Only configured
    /// printers are ever used, except by a lead: a client cannot send documents anywhere else.
    #[serde(default)]
    pub printers: BTreeMap<String, String>,
    /// Which Buy Shipping API labels are bought through (`shipping-v2`, the default, or
    /// `mfn-v0` for an app without the Shipping API role).
    #[serde(default)]
    pub api: ShippingApi,
    /// How far, in percent, a rate may have risen since the labeler chose it before packline
    /// asks again instead of buying (default 5).
    pub price_tolerance_percent: Option<u64>,
    /// The Amazon shipping business of Shipping API v2 requests (`x-amzn-shipping-business-id`,
    /// e.g. `AmazonShipping_UK`); by default that of the site's marketplace
    /// ([`Config::shipping_business`]).
    pub business_id: Option<String>,
}

/// The Buy Shipping API of a site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ShippingApi {
    /// Shipping API v2: purchases carry an idempotency key; collection forms; tracking.
    #[default]
    #[serde(rename = "shipping-v2")]
    ShippingV2,
    /// Merchant Fulfillment v0: no idempotency key, so a lost answer is a lead's to settle.
    #[serde(rename = "mfn-v0")]
    MfnV0,
}

impl ShippingApi {
    pub fn name(self) -> &'static str {
        match self {
            ShippingApi::ShippingV2 => "shipping-v2",
            ShippingApi::MfnV0 => "mfn-v0",
        }
    }
}

impl ShippingConfig {
    /// The price rise allowed between the rate a labeler chose and the purchase, as a factor.
    pub fn price_tolerance(&self) -> f64 {
        self.price_tolerance_percent.unwrap_or(5) as f64 / 100.0
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPrinters {
    pub label_printer: Option<String>,
    pub slip_printer: Option<String>,
}

/// The ship-from address for label purchases. Not personal data of a customer: the seller's.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipFrom {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
    pub email: String,
}

impl ShippingConfig {
    /// Every printer URI the site has configured, under any name.
    pub fn known_printers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.printers.values().map(String::as_str).collect();
        out.extend(self.label_printer.as_deref());
        out.extend(self.slip_printer.as_deref());
        for u in self.users.values() {
            out.extend(u.label_printer.as_deref());
            out.extend(u.slip_printer.as_deref());
        }
        out
    }

    /// The printer for a document kind and user: the user's own, else the site default.
    pub fn printer_for(&self, user: &str, label: bool) -> Option<String> {
        let own = self.users.get(user).and_then(|u| {
            if label {
                u.label_printer.clone()
            } else {
                u.slip_printer.clone()
            }
        });
        own.or_else(|| {
            if label {
                self.label_printer.clone()
            } else {
                self.slip_printer.clone()
            }
        })
    }
}
