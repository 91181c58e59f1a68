//! Records encoded, enveloped and framed for one output, grouped for one write.

use std::sync::Arc;

use super::envelope::Envelope;
use super::framing::{Framing, write_framed};
use crate::alert::Timestamp;
use crate::mapping::{EncodeError, EncodeStats, Mapping, TenantIdentity};
use crate::reader::InputAlert;

/// Framed records ready for one write, and the alert id of each, for reports.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
    /// End of each framed record in `bytes`.
    ends: Vec<usize>,
    /// Alert ids, concatenated; `id_ends[i]` ends the id of record `i`.
    ids: String,
    id_ends: Vec<usize>,
    /// Envelope + record before framing (octet counting needs the length first).
    scratch: Vec<u8>,
}

impl Batch {
    /// An empty batch with room for `bytes` bytes of framed records before it grows.
    pub fn with_capacity(bytes: usize) -> Batch {
        Batch {
            bytes: Vec::with_capacity(bytes),
            ..Batch::default()
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The framed bytes, as written to the wire.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Each framed record.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let r = &self.bytes[start..end];
            start = end;
            r
        })
    }

    /// The alert id of each record (empty when the alert had none).
    pub fn alert_ids(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.id_ends.iter().map(move |&end| {
            let id = &self.ids[start..end];
            start = end;
            id
        })
    }

    /// Empties it for the next batch, keeping its buffers' capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.ids.clear();
        self.id_ends.clear();
    }

    /// Appends a record that is already enveloped (not framed).
    pub fn push_record(&mut self, framing: Framing, record: &[u8], alert_id: &str) {
        write_framed(framing, record, &mut self.bytes);
        self.ends.push(self.bytes.len());
        self.ids.push_str(alert_id);
        self.id_ends.push(self.ids.len());
    }
}

/// Turns alerts into the framed records of one output: mapping, syslog envelope, framing, and
/// the output's maximum message size, which counts the envelope and the framing.
#[derive(Debug, Clone)]
pub struct RecordEncoder {
    mapping: Arc<Mapping>,
    envelope: Envelope,
    framing: Framing,
    max_message_bytes: usize,
}

impl RecordEncoder {
    /// An encoder of `mapping`'s records in `envelope`, framed by `framing`, each record at
    /// most `max_message_bytes` bytes on the wire (the output's `max_message_bytes`).
    pub fn new(
        mapping: Arc<Mapping>,
        envelope: Envelope,
        framing: Framing,
        max_message_bytes: usize,
    ) -> RecordEncoder {
        RecordEncoder {
            mapping,
            envelope,
            framing,
            max_message_bytes,
        }
    }

    /// The compiled mapping (the output's `mapping` file, or the built-in one of its format).
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// How each record is framed on the wire.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The longest record on the wire, in bytes, envelope and framing included.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// Appends the record of `input` to `batch`. A record that cannot fit into the maximum
    /// even with every value shortened is an error, and nothing is appended.
    pub fn encode(
        &self,
        input: &InputAlert<'_>,
        tenant: TenantIdentity<'_>,
        now: Timestamp,
        batch: &mut Batch,
    ) -> Result<EncodeStats, EncodeError> {
        let mut scratch = std::mem::take(&mut batch.scratch);
        scratch.clear();
        self.envelope.write_header(&input.alert, now, &mut scratch);
        let budget = self
            .max_message_bytes
            .saturating_sub(self.framing.overhead(self.max_message_bytes) + scratch.len());
        let result = self
            .mapping
            .encode(input, tenant, Some(budget), &mut scratch);
        if result.is_ok() {
            batch.push_record(self.framing, &scratch, input.alert.id().unwrap_or_default());
        }
        batch.scratch = scratch;
        result
    }
}
