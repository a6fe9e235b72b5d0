//! Filters and tails.

mod common;

use coffer_audit::{EventBuilder, Filter, Journal, JournalConfig, Resource, query, read};
use coffer_util::time::Timestamp;
use common::{TempDir, key_arn, user};
use serde_json::json;

/// 200 events over many files: event i is by user i%4, on key i%5, named Encrypt or Decrypt
/// alternately, at time base + i minutes.
async fn journal(name: &str) -> (TempDir, Timestamp) {
    let dir = TempDir::new(name);
    let base = Timestamp::from_secs(1_800_000_000);
    let j = Journal::open(dir.path(), JournalConfig { max_file_bytes: 8 * 1024, ..Default::default() }).unwrap();
    for i in 0..200usize {
        let event = EventBuilder::new("kms.amazonaws.com", if i % 2 == 0 { "Encrypt" } else { "Decrypt" }, "us-east-1")
            .time(base.plus_secs(60 * i as i64))
            .identity(user(i % 4))
            .request_parameters(json!({"keyId": key_arn(i % 5), "n": i}))
            .resource(Resource { arn: key_arn(i % 5), account_id: "111122223333".into(), kind: "AWS::KMS::Key".into() })
            .build();
        j.append(event).await.unwrap();
    }
    assert!(j.stats().rotations > 5);
    (dir, base)
}

fn ns(events: &[serde_json::Value]) -> Vec<u64> {
    events.iter().map(|e| e["requestParameters"]["n"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn filters_combine() {
    let (dir, base) = journal("filters").await;
    let all = read(dir.path(), &Filter::default(), None).unwrap();
    assert_eq!(ns(&all), (0..200).collect::<Vec<_>>());
    assert_eq!(all[0]["sequence"], 1);

    let by_user = Filter { principal_arn: Some(user(1).arn), ..Default::default() };
    assert_eq!(ns(&read(dir.path(), &by_user, None).unwrap()), (1..200).step_by(4).collect::<Vec<_>>());

    let decrypts_of_user_1 = Filter { event_name: Some("Decrypt".into()), ..by_user.clone() };
    assert_eq!(read(dir.path(), &decrypts_of_user_1, None).unwrap().len(), 50);
    let encrypts_of_user_1 = Filter { event_name: Some("Encrypt".into()), ..by_user };
    assert!(read(dir.path(), &encrypts_of_user_1, None).unwrap().is_empty());

    // Resource: a substring of the key ARN (the key id alone) matches.
    let key3 = Filter { resource: Some("00000003-12ab".into()), ..Default::default() };
    assert_eq!(ns(&read(dir.path(), &key3, None).unwrap()), (3..200).step_by(5).collect::<Vec<_>>());

    let window = Filter {
        start_time: Some(base.plus_secs(60 * 10)),
        end_time: Some(base.plus_secs(60 * 19)),
        ..Default::default()
    };
    assert_eq!(ns(&read(dir.path(), &window, None).unwrap()), (10..=19).collect::<Vec<_>>());

    let source = Filter { event_source: Some("ssm.amazonaws.com".into()), ..Default::default() };
    assert!(read(dir.path(), &source, None).unwrap().is_empty());

    // The streaming form yields the same.
    let streamed: Vec<_> = query(dir.path(), &key3).unwrap().map(Result::unwrap).collect();
    assert_eq!(ns(&streamed), ns(&read(dir.path(), &key3, None).unwrap()));
}

#[tokio::test]
async fn tail_returns_the_last_n_matches_in_order() {
    let (dir, _) = journal("tail").await;
    assert_eq!(ns(&read(dir.path(), &Filter::default(), Some(3)).unwrap()), vec![197, 198, 199]);
    assert!(read(dir.path(), &Filter::default(), Some(0)).unwrap().is_empty());
    // Spanning files: the last 70 of user 2's 50 events is all of them.
    let user2 = Filter { principal_arn: Some(user(2).arn), ..Default::default() };
    assert_eq!(ns(&read(dir.path(), &user2, Some(70)).unwrap()), (2..200).step_by(4).collect::<Vec<_>>());
    let last12 = read(dir.path(), &user2, Some(12)).unwrap();
    assert_eq!(ns(&last12), (2..200).step_by(4).skip(38).collect::<Vec<_>>());
    assert_eq!(read(dir.path(), &Filter::default(), Some(500)).unwrap().len(), 200);
}

#[tokio::test]
async fn readers_skip_a_write_in_progress_and_report_garbage() {
    let (dir, _) = journal("garbage").await;
    let last = dir.files().last().unwrap().clone();
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.extend_from_slice(b"{\"sequence\":201,\"previ");
    std::fs::write(&last, &bytes).unwrap();
    assert_eq!(read(dir.path(), &Filter::default(), None).unwrap().len(), 200);
    assert_eq!(ns(&read(dir.path(), &Filter::default(), Some(1)).unwrap()), vec![199]);

    let first = dir.files()[0].clone();
    let mut bytes = std::fs::read(&first).unwrap();
    bytes.splice(0..0, b"garbage\n".iter().copied());
    std::fs::write(&first, &bytes).unwrap();
    let results: Vec<_> = query(dir.path(), &Filter::default()).unwrap().collect();
    assert_eq!(results.len(), 201);
    let err = results[0].as_ref().unwrap_err();
    assert!(matches!(err, coffer_audit::AuditError::Corrupt { offset: 0, .. }), "{err}");
    assert!(results[1..].iter().all(Result::is_ok));
}
