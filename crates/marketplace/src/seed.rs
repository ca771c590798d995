//! Deterministic order generation in the exact shape of a `searchOrders` response: the same seed
//! always gives the same orders. Names and addresses mix scripts and include hostile text
//! (escape sequences, bidirectional overrides, zero-width characters, ZPL control characters),
//! so everything downstream is exercised with what real marketplaces send.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

const GIVEN: &[&str] = &[
    "John",
    "María",
    "Zoë",
    "Søren",
    "Aiko",
    "Олег",
    "محمد",
    "יעל",
    "Nguyễn",
    "Priya",
    "Łukasz",
    "Chloé",
    "Kwame",
    "李",
    "Ana-Lucía",
    "Ōtani",
    "Émile",
    "Fatima",
    "Björn",
    "Siobhán",
];
const FAMILY: &[&str] = &[
    "Smith",
    "García",
    "Müller-Lüdenscheidt",
    "O'Brien",
    "山田",
    "Иванова",
    "الفارسي",
    "כהן",
    "Trần",
    "Patel",
    "Wiśniewski",
    "Dubois",
    "Mensah",
    "王",
    "de la Cruz",
    "Nakamura",
    "Ødegård",
    "Fernández",
    "Nyström",
    "Ní Bhraonáin",
];
/// Syllables for made-up family names, so a large store has realistic name diversity.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ran", "sen", "to", "vak", "dor", "el", "fin", "gar", "hu", "is", "jo", "ko",
    "lin", "mar", "no", "pet", "qui", "ros", "sta", "tur", "ul", "vin", "wen", "xi", "yor", "za",
    "ber",
];
const HOSTILE: &[&str] = &[
    "\u{1b}[2J\u{1b}[31mEvil",
    "Mallory\u{202E}gnp.exe",
    "Zero\u{200B}Width\u{200D}Joiner",
    "^XA^FO50,50^FDPWNED^FS^XZ",
    "~JA cancel all",
    "Bell\u{7}\u{7}",
];
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Seattle", "WA", "98101", "US"),
    ("Austin", "TX", "73301", "US"),
    ("München", "BY", "80331", "DE"),
    ("Köln", "NW", "50667", "DE"),
    ("London", "", "SW1A 1AA", "GB"),
    ("東京", "東京都", "100-0001", "JP"),
    ("Montréal", "QC", "H2Y 1C6", "CA"),
    ("São Paulo", "SP", "01310-100", "BR"),
];
const LEVELS: &[&str] = &[
    "STANDARD",
    "STANDARD",
    "STANDARD",
    "EXPEDITED",
    "SECOND_DAY",
    "NEXT_DAY",
    "FREE_ECONOMY",
];

/// A generator of pending merchant-fulfilled orders.
pub struct OrderGenerator {
    rng: ChaCha8Rng,
    next: u64,
    start: DateTime<Utc>,
    /// How many SKUs the catalogue has (SKU-00001 …).
    pub skus: u32,
    /// Share of orders with hostile recipient text, 0.0–1.0.
    pub hostile_share: f64,
    /// Whether some catalogue items carry Amazon's per-unit requirements: every 7th SKU is in
    /// the Transparency program, every 11th needs serial numbers (no random draws: the same
    /// seed gives the same orders either way).
    pub unit_codes: bool,
}

impl OrderGenerator {
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next: 0,
            start,
            skus: 500,
            hostile_share: 0.05,
            unit_codes: false,
        }
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.gen_range(0..from.len())]
    }

    /// The next order, as Amazon's JSON.
    pub fn order(&mut self) -> Value {
        let created = self.start + Duration::seconds(self.rng.gen_range(0..86_400 * 3));
        self.order_created(created)
    }

    /// The next order, placed at `created` (new orders arriving while the marketplace runs).
    pub fn order_created(&mut self, created: DateTime<Utc>) -> Value {
        let n = self.next;
        self.next += 1;
        let id = format!(
            "{:03}-{:07}-{:07}",
            100 + (n / 10_000_000_000) % 900,
            (n / 10_000_000) % 10_000_000,
            n % 10_000_000
        );
        let ship_by = created + Duration::hours(self.rng.gen_range(12..96));
        let prime = self.rng.gen_bool(0.4);
        let family = if self.rng.gen_bool(0.2) {
            self.pick(FAMILY).to_owned()
        } else {
            let parts = self.rng.gen_range(2..=3);
            let mut f: String = (0..parts).map(|_| self.pick(SYLLABLES)).collect();
            if let Some(first) = f.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            f
        };
        let name = if self.rng.gen_bool(self.hostile_share) {
            format!("{} {family}", self.pick(HOSTILE))
        } else {
            format!("{} {family}", self.pick(GIVEN))
        };
        let (city, region, postal, country) = CITIES[self.rng.gen_range(0..CITIES.len())];
        let lines = self.rng.gen_range(1..=3);
        let mut items = Vec::with_capacity(lines);
        for j in 0..lines {
            let sku = self.rng.gen_range(1..=self.skus);
            let mut item = json!({
                "orderItemId": format!("{}{:02}", 10_000_000_000_000u64 + n, j),
                "quantityOrdered": if self.rng.gen_bool(0.8) { 1 } else { self.rng.gen_range(2..=6) },
                "product": {
                    "asin": format!("B0{:08}", sku),
                    "title": format!("Catalogue item {sku} – widget, size {}", j + 1),
                    "sellerSku": format!("SKU-{sku:05}"),
                    "price": { "unitPrice": { "amount": "19.99", "currencyCode": "USD" } }
                },
                "fulfillment": { "quantityFulfilled": 0, "quantityUnfulfilled": 1 }
            });
            if j == 0 && self.rng.gen_bool(0.1) {
                item["fulfillment"]["packing"] = json!({ "giftOption": {
                    "giftMessage": format!("Happy birthday, love from {}", self.pick(GIVEN)),
                    "giftWrapLevel": "STANDARD",
                } });
            }
            if self.unit_codes && sku % 7 == 0 {
                item["programs"] = json!(["TRANSPARENCY"]);
            }
            if self.unit_codes && sku % 11 == 0 {
                item["fulfillment"]["packing"]["serialNumberRequirement"] =
                    json!({ "requirementType": "REQUIRED" });
            }
            items.push(item);
        }
        json!({
            "orderId": id,
            "createdTime": created.to_rfc3339(),
            "lastUpdatedTime": created.to_rfc3339(),
            "programs": if prime { json!(["PRIME"]) } else { json!([]) },
            "salesChannel": { "channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER", "marketplaceName": "Amazon.com" },
            "recipient": {
                "deliveryAddress": {
                    "name": name,
                    "addressLine1": format!("{} {} Street", self.rng.gen_range(1..9999), self.pick(FAMILY)),
                    "addressLine2": if self.rng.gen_bool(0.3) { format!("Apt {}", self.rng.gen_range(1..400)) } else { String::new() },
                    "city": city,
                    "stateOrRegion": region,
                    "postalCode": postal,
                    "countryCode": country,
                    "phone": format!("+1 555 {:04}", self.rng.gen_range(0..10_000)),
                    "addressType": "RESIDENTIAL"
                },
                "deliveryPreference": if self.rng.gen_bool(0.1) { json!({ "addressInstruction": "Leave at the back door" }) } else { json!({}) }
            },
            "fulfillment": {
                "fulfillmentStatus": "UNSHIPPED",
                "fulfilledBy": "MERCHANT",
                "fulfillmentServiceLevel": self.pick(LEVELS),
                "shipByWindow": { "earliestDateTime": created.to_rfc3339(), "latestDateTime": ship_by.to_rfc3339() },
                "deliverByWindow": { "earliestDateTime": (ship_by + Duration::days(1)).to_rfc3339(), "latestDateTime": (ship_by + Duration::days(5)).to_rfc3339() }
            },
            "orderItems": items
        })
    }

    /// A page of `count` orders as a `searchOrders` response body.
    pub fn page(&mut self, count: usize) -> Value {
        let orders: Vec<Value> = (0..count).map(|_| self.order()).collect();
        json!({ "orders": orders })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_orders_and_they_parse() {
        let t = DateTime::parse_from_rfc3339("2026-11-02T08:00:00Z")
            .unwrap()
            .into();
        let a = OrderGenerator::new(7, t).page(50);
        let b = OrderGenerator::new(7, t).page(50);
        assert_eq!(a, b);
        let page =
            packline::amazon::parse_search_orders(&serde_json::to_vec(&a).unwrap(), "gen").unwrap();
        assert_eq!(page.orders.len(), 50);
        let ids: std::collections::BTreeSet<_> =
            page.orders.iter().map(|o| o.order.id.clone()).collect();
        assert_eq!(ids.len(), 50, "order ids are unique");
        assert!(
            page.orders
                .iter()
                .all(|o| o.status.is_actionable() && o.recipient.is_some())
        );
    }
}
