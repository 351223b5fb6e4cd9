//! RFC 9335 Appendix A plaintext packets as RFC 8285 header-extension vectors: one-
//! and two-byte forms, with and without CSRCs, and empty blocks.

use portunus_rtp::{
    ExtIdMap, ExtensionBlock, ExtensionElement, ExtensionForm, RtpHeader, RtpPacket, RtpPacketMut,
    Ssrc, write_rtp,
};
use serde_json::Value;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/test-vectors/srtp-cryptex-rfc9335.json"
));

struct Vector {
    name: String,
    plaintext: Vec<u8>,
    extensions: Vec<(u8, Vec<u8>)>,
    csrcs: Vec<u32>,
}

fn vectors() -> Vec<Vector> {
    let v: Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
    let list = v["vectors"].as_array().expect("vectors array");
    list.iter()
        .map(|t| Vector {
            name: t["name"].as_str().expect("name").to_owned(),
            plaintext: hex::decode(t["plaintext"].as_str().expect("plaintext")).expect("hex"),
            extensions: t["extensions"]
                .as_array()
                .expect("extensions")
                .iter()
                .map(|e| {
                    let id = u8::try_from(e["id"].as_u64().expect("id")).expect("id fits u8");
                    (
                        id,
                        hex::decode(e["data"].as_str().expect("data")).expect("hex"),
                    )
                })
                .collect(),
            csrcs: t["csrcs"]
                .as_array()
                .expect("csrcs")
                .iter()
                .map(|c| {
                    let b = hex::decode(c.as_str().expect("csrc")).expect("hex");
                    u32::from_be_bytes(b.try_into().expect("4-byte CSRC"))
                })
                .collect(),
        })
        .collect()
}

#[test]
fn all_six_vectors_are_present() {
    let v = vectors();
    assert_eq!(v.len(), 6);
    assert!(
        v.iter()
            .any(|t| t.name.contains("2-byte") && !t.csrcs.is_empty())
    );
}

#[test]
fn parses_listed_extension_elements_and_csrcs() {
    for t in vectors() {
        let p = RtpPacket::parse(&t.plaintext).unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert!(p.has_extension(), "{}", t.name);
        let got: Vec<(u8, Vec<u8>)> = p
            .extensions()
            .expect("extension block")
            .iter()
            .map(|e| (e.id, e.data.to_vec()))
            .collect();
        assert_eq!(got, t.extensions, "{}", t.name);
        let csrcs: Vec<u32> = p.csrcs().map(|c| c.0).collect();
        assert_eq!(csrcs, t.csrcs, "{}", t.name);
        assert_eq!(p.ssrc(), Ssrc(0xcafe_babe), "{}", t.name);
        assert_eq!(p.payload(), &[0xab; 16], "{}", t.name);
        let two_byte = t.name.contains("2-byte");
        let form = p.extensions().and_then(|e| e.form());
        assert_eq!(
            form,
            Some(if two_byte {
                ExtensionForm::TwoByte { app_bits: 0 }
            } else {
                ExtensionForm::OneByte
            }),
            "{}",
            t.name
        );
        assert!(p.extensions().expect("block").validate().is_ok());
        for (id, data) in &t.extensions {
            assert_eq!(p.extension(*id), Some(&data[..]), "{}", t.name);
        }
    }
}

#[test]
fn writer_reproduces_plaintexts_byte_for_byte() {
    for t in vectors() {
        let p = RtpPacket::parse(&t.plaintext).expect("parses");
        let csrcs: Vec<Ssrc> = p.csrcs().collect();
        let elems: Vec<ExtensionElement<'_>> = t
            .extensions
            .iter()
            .map(|(id, data)| ExtensionElement { id: *id, data })
            .collect();
        let hdr = RtpHeader {
            marker: p.marker(),
            payload_type: p.payload_type(),
            sequence_number: p.sequence_number(),
            timestamp: p.timestamp(),
            ssrc: p.ssrc(),
            csrcs: &csrcs,
            extensions: Some(ExtensionBlock {
                form: p
                    .extensions()
                    .and_then(|e| e.form())
                    .expect("RFC 8285 form"),
                elements: &elems,
            }),
        };
        let mut out = [0u8; 128];
        let n = write_rtp(&mut out, &hdr, p.payload(), 0).expect("writes");
        assert_eq!(&out[..n], &t.plaintext[..], "{}", t.name);
    }
}

#[test]
fn remapping_id_5_changes_only_the_id_bits() {
    for t in vectors().into_iter().filter(|t| !t.extensions.is_empty()) {
        let mut buf = t.plaintext.clone();
        let mut map = ExtIdMap::new();
        map.set(5, 12).expect("valid id");
        let mut p = RtpPacketMut::parse(&mut buf).expect("parses");
        assert_eq!(p.remap_extension_ids(&map), 0);
        assert_eq!(p.as_packet().extension(12), Some(&[0x00, 0x02][..]));
        assert_eq!(p.as_packet().extension(5), None);
        let diff: Vec<usize> = (0..buf.len())
            .filter(|&i| buf[i] != t.plaintext[i])
            .collect();
        assert_eq!(diff.len(), 1, "{}", t.name);
        let at = diff[0];
        if t.name.contains("2-byte") {
            assert_eq!((t.plaintext[at], buf[at]), (0x05, 0x0c));
        } else {
            assert_eq!((t.plaintext[at], buf[at]), (0x51, 0xc1));
        }
    }
}

#[test]
fn unmapped_extension_is_blanked_to_padding() {
    let t = &vectors()[0];
    let mut buf = t.plaintext.clone();
    let mut p = RtpPacketMut::parse(&mut buf).expect("parses");
    assert_eq!(p.remap_extension_ids(&ExtIdMap::new()), 1);
    assert_eq!(p.as_packet().extensions().expect("block").iter().count(), 0);
    assert_eq!(p.as_packet().payload(), &[0xab; 16]);
    assert_eq!(&buf[12..20], &[0xbe, 0xde, 0, 1, 0, 0, 0, 0]);
}
