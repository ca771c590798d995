//! Reading the queue: open orders merged across states by ship-by, pages of it, and counts.
//! Cost follows the page asked for (plus the keys skipped to reach it), never the store size,
//! except for [`Store::queue_counts`], which the service caches.

use crate::store::backend::Bytes;
use chrono::{DateTime, Utc};

use super::{Error, Store, decode_record, queue_id};
use crate::domain::{OrderId, OrderRecord, OrderState};

/// The states a warehouse works on, in the order the queue shows them when ship-by is equal.
pub const OPEN_STATES: [OrderState; 6] = [
    OrderState::Exception,
    OrderState::New,
    OrderState::Picking,
    OrderState::Picked,
    OrderState::Packed,
    OrderState::Labelled,
];

/// Per-state counts, and open orders late or due by `due_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub by_state: Vec<(OrderState, u64)>,
    pub late: u64,
    pub due: u64,
}

/// The most keys of one state a queue page reads before it starts: a quick page's depth and
/// more, so that a deep page's keys past it are scanned as it goes, never all held at once.
const HEAD_KEYS: usize = 2_048;

fn ship_by_secs(key: &[u8]) -> i64 {
    key.get(1..9)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

impl Store {
    /// A page of the queue: one state, or every open state merged by ship-by then order id.
    pub fn queue_page(
        &self,
        state: Option<OrderState>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<OrderRecord>, bool), Error> {
        self.queue_page_reading(state, offset, limit, HEAD_KEYS)
    }

    /// [`Store::queue_page`], reading at most `head_keys` of each state before it starts.
    fn queue_page_reading(
        &self,
        state: Option<OrderState>,
        offset: usize,
        limit: usize,
        head_keys: usize,
    ) -> Result<(Vec<OrderRecord>, bool), Error> {
        let states: Vec<OrderState> = match state {
            Some(s) => vec![s],
            None => OPEN_STATES.to_vec(),
        };
        // Each state's first keys, enough for the page (at most `HEAD_KEYS`), read together (one
        // request on a shared database); a state whose keys ran that far goes on from its last
        // one as a scan.
        let need = (offset + limit + 1).min(head_keys);
        let prefixes: Vec<[u8; 1]> = states.iter().map(|s| [s.code()]).collect();
        let prefixes: Vec<&[u8]> = prefixes.iter().map(|p| p.as_slice()).collect();
        let heads = self.t.queue.first_keys(&prefixes, need)?;
        let mut iters: Vec<_> = states
            .iter()
            .zip(heads)
            .map(|(s, head)| {
                let rest = match head.last() {
                    Some(last) if head.len() == need => {
                        let end = [s.code() + 1];
                        Some(
                            self.t
                                .queue
                                .range::<&[u8]>((
                                    std::ops::Bound::Excluded(last.as_ref()),
                                    std::ops::Bound::Excluded(end.as_slice()),
                                ))
                                .keys(),
                        )
                    }
                    _ => None,
                };
                head.into_iter()
                    .map(Ok)
                    .chain(rest.into_iter().flatten())
                    .peekable()
            })
            .collect();
        let mut rows = Vec::new();
        let mut skipped = 0;
        // The page's keys, read together once there are as many as rows still wanted.
        let mut keys: Vec<Bytes> = Vec::new();
        loop {
            if !keys.is_empty() && rows.len() + keys.len() >= limit {
                rows.extend(
                    self.queue_entries(&std::mem::take(&mut keys))?
                        .into_iter()
                        .flatten(),
                );
            }
            // The smallest (ship-by, id) among the heads of the per-state scans.
            let mut best: Option<(usize, Bytes)> = None;
            for (i, it) in iters.iter_mut().enumerate() {
                match it.peek() {
                    Some(Ok(k)) if best.as_ref().is_none_or(|(_, b)| k[1..] < b[1..]) => {
                        best = Some((i, k.clone()));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) => {
                        it.next().transpose()?;
                    }
                    None => {}
                }
            }
            let Some((i, key)) = best else {
                rows.extend(self.queue_entries(&keys)?.into_iter().flatten());
                return Ok((rows, false));
            };
            iters[i].next();
            if rows.len() == limit {
                return Ok((rows, true));
            }
            // Entries before the page are skipped by key alone (a rare stale entry, see
            // `Store::list`, may shift a page by one); the page's own entries are read.
            if skipped < offset {
                skipped += 1;
                continue;
            }
            keys.push(key);
        }
    }

    /// Orders whose id starts with `prefix`, by id.
    pub fn search_ids(
        &self,
        prefix: &str,
        state: Option<OrderState>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<OrderRecord>, bool), Error> {
        let mut rows = Vec::new();
        let mut skipped = 0;
        // A state filter over a short prefix could read much of the store: read at most this
        // many records past the page for one request.
        let budget = offset + limit + 10_000;
        for item in self.t.orders.scan_prefix(prefix.as_bytes()).take(budget) {
            let rec = decode_record(&item?.1)?;
            if state.is_some_and(|s| s != rec.state) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if rows.len() == limit {
                return Ok((rows, true));
            }
            rows.push(rec);
        }
        Ok((rows, false))
    }

    /// Counts every state by walking the queue keys (no record is read). Linear in the store.
    pub fn queue_counts(
        &self,
        now: DateTime<Utc>,
        due_by: DateTime<Utc>,
    ) -> Result<QueueCounts, Error> {
        let mut c = QueueCounts::default();
        for s in OrderState::ALL {
            let mut n = 0;
            let open = !s.is_closed();
            for k in self.t.queue.scan_prefix([s.code()]).keys() {
                let k = k?;
                n += 1;
                if open {
                    let t = ship_by_secs(&k);
                    if t < now.timestamp() {
                        c.late += 1;
                    } else if t <= due_by.timestamp() {
                        c.due += 1;
                    }
                }
            }
            c.by_state.push((s, n));
        }
        Ok(c)
    }

    /// Orders in one state, ids only, in queue order (ship-by).
    pub fn ids_in(&self, state: OrderState, limit: usize) -> Result<Vec<OrderId>, Error> {
        let mut ids = Vec::new();
        for k in self.t.queue.scan_prefix([state.code()]).keys() {
            if ids.len() == limit {
                break;
            }
            let k = k?;
            if let Ok(id) = OrderId::parse(&String::from_utf8_lossy(queue_id(&k))) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

impl Store {
    /// Up to `limit` orders in queue order (state, then ship-by, then id; one state if given)
    /// after the queue key `after`, and the key to continue from when more follow. Any size of
    /// store lists completely, page by page, each page costing its own rows only.
    pub fn list_page(
        &self,
        state: Option<OrderState>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<OrderRecord>, Option<Vec<u8>>), Error> {
        use std::ops::Bound;
        let prefix: Vec<u8> = state.map(|s| vec![s.code()]).unwrap_or_default();
        let start = match after {
            Some(k) => Bound::Excluded(k.to_vec()),
            None => Bound::Included(prefix.clone()),
        };
        let mut rows = Vec::new();
        let mut last = None;
        // The page's keys, read together once there are as many as rows still wanted. A stale
        // entry (see `list`) is stepped over, never shown.
        let mut keys: Vec<Bytes> = Vec::new();
        for item in self.t.queue.range::<Vec<u8>>((start, Bound::Unbounded)) {
            if !keys.is_empty() && rows.len() + keys.len() >= limit {
                rows.extend(
                    self.queue_entries(&std::mem::take(&mut keys))?
                        .into_iter()
                        .flatten(),
                );
            }
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                rows.extend(self.queue_entries(&keys)?.into_iter().flatten());
                return Ok((rows, None));
            }
            if rows.len() == limit {
                return Ok((rows, last));
            }
            last = Some(k.to_vec());
            keys.push(k);
        }
        rows.extend(self.queue_entries(&keys)?.into_iter().flatten());
        Ok((rows, None))
    }
}

/// Open orders by ship-by against a clock: late ones, one count per hour from `now`, and those
/// due before `pickup`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueCounts {
    pub late: u64,
    /// `hours[i]`: ship-by in `[now + i h, now + (i + 1) h)`.
    pub hours: Vec<u64>,
    /// Not late, and due before the pickup.
    pub before_pickup: u64,
}

impl Store {
    /// Open orders due within `hours` hours of `now`, and those already late. The late ones of
    /// whole hours before this one come from the open-order counters (one per hour: see
    /// `stats`); the rest from the queue keys from the start of this hour to the end of the
    /// window in each state. Neither grows with the orders shipped or long late.
    pub fn due_counts(
        &self,
        now: DateTime<Utc>,
        hours: usize,
        pickup: DateTime<Utc>,
    ) -> Result<DueCounts, Error> {
        let mut c = DueCounts {
            hours: vec![0; hours],
            ..DueCounts::default()
        };
        let this_hour = now.timestamp().div_euclid(3600);
        c.late = self.open_before_hour(this_hour)?;
        let from = ship_by_bound(this_hour.saturating_mul(3600));
        let until = now.timestamp().saturating_add(3600 * hours as i64);
        for s in OPEN_STATES {
            let lo = [&[s.code()][..], &from].concat();
            for k in self.t.queue.range(lo..).keys() {
                let k = k?;
                if k.first() != Some(&s.code()) {
                    break;
                }
                let t = ship_by_secs(&k);
                if t >= until {
                    break;
                }
                if t < now.timestamp() {
                    c.late += 1;
                    continue;
                }
                if let Some(h) = c.hours.get_mut(((t - now.timestamp()) / 3600) as usize) {
                    *h += 1;
                }
                if t < pickup.timestamp() {
                    c.before_pickup += 1;
                }
            }
        }
        Ok(c)
    }
}

/// The queue key bytes of a ship-by (seconds), as `queue_key` writes them.
fn ship_by_bound(secs: i64) -> [u8; 8] {
    ((secs as u64) ^ (1 << 63)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::store::test_support::{keyed_store, unshipped};

    /// A page whose state has more keys than were read before it started goes on past them
    /// as a scan: every page, at every depth, is the same slice of the whole listing.
    #[test]
    fn a_page_past_the_keys_read_first_goes_on_as_a_scan() {
        let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .into();
        let (_dir, mut store) = keyed_store(t0);
        let orders = (1..=15)
            .map(|i| unshipped(&format!("111-0000000-{i:07}")))
            .collect();
        store.import(orders, "lead", t0).unwrap();
        let ids = |rows: Vec<crate::domain::OrderRecord>| -> Vec<String> {
            rows.into_iter().map(|r| r.order.id.to_string()).collect()
        };
        let (whole, more) = store.queue_page(None, 0, 100).unwrap();
        assert!(!more);
        let whole = ids(whole);
        assert_eq!(whole.len(), 15);
        for head_keys in [1, 2, 5] {
            for offset in 0..16 {
                for limit in [1, 3, 7] {
                    let (page, more) = store
                        .queue_page_reading(None, offset, limit, head_keys)
                        .unwrap();
                    let end = (offset + limit).min(15);
                    let want = whole.get(offset..end).unwrap_or_default();
                    assert_eq!(
                        ids(page),
                        want,
                        "{head_keys} keys first, page {offset}+{limit}"
                    );
                    assert_eq!(
                        more,
                        end < 15,
                        "{head_keys} keys first, page {offset}+{limit}"
                    );
                }
            }
        }
    }
}
