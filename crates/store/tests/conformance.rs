//! The conformance suite every storage backend must pass: the same cases run against
//! SQLite (a file) and PostgreSQL (a fresh database on a real server; see
//! `chorus_store::testing`).

use chorus_core::{Article, Outlet, OutletKind, StoryArticle, SynthSentence};
use chorus_store::testing::TestDatabase;
use chorus_store::{
    ClusterState, FeedUpdate, InsertOutcome, NewArticle, NewReport, PgStore, RecheckOutcome, Session, SiteStore,
    SqliteStore, StoreStats, StoryView,
};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// A store under test, and a way to open a second handle on the same data (another
/// process, as far as the store can tell).
struct Fixture {
    store: Arc<dyn SiteStore>,
    reopen: Box<dyn Fn() -> Arc<dyn SiteStore>>,
    _keep: Option<Box<dyn std::any::Any>>,
}

fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chorus.db");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&path).unwrap());
    let reopen = Box::new(move || Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn SiteStore>);
    Some(Fixture { store, reopen, _keep: Some(Box::new(dir)) })
}

fn postgres() -> Option<Fixture> {
    let db = TestDatabase::create()?;
    let store: Arc<dyn SiteStore> = Arc::new(db.store().unwrap());
    let url = db.url.clone();
    let reopen = Box::new(move || Arc::new(PgStore::connect_with(&url, 4).unwrap()) as Arc<dyn SiteStore>);
    Some(Fixture { store, reopen, _keep: Some(Box::new(db)) })
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn article(id: &str, text: &str) -> Article {
    Article {
        id: id.into(),
        url: "https://example.org/a".into(),
        outlet: "Example".into(),
        lang: "en".into(),
        lang_detected: false,
        published: time("2026-01-06T10:00:00Z"),
        title: "Title".into(),
        text: text.into(),
        authors: Vec::new(),
    }
}

fn new<'a>(a: &'a Article, hash: &str, dup: Option<&str>) -> NewArticle<'a> {
    NewArticle { article: a, content_hash: hash.into(), fingerprint: vec![1, 2, 3], duplicate_of: dup.map(Into::into) }
}

fn written(story: i64, sentence: &str) -> StoryArticle {
    StoryArticle {
        story_id: story,
        lang: "en".into(),
        title: "Twelve dead".into(),
        edited_by: "chorus".into(),
        written_at: Utc::now(),
        paragraphs: vec![vec![SynthSentence::unsourced(sentence, "en")]],
        unconfirmed: true,
        coverage: Default::default(),
        claims: vec![],
        disagreements: vec![],
        generation: None,
        revision: 0,
    }
}

/// A store with one article in one story.
fn with_story(s: &dyn SiteStore) -> i64 {
    let a = Article { published: None, title: "T".into(), ..article("a", "Text.") };
    s.insert_articles(&[new(&a, "h", None)]).unwrap();
    s.assign(1, &[("a".into(), Err(0))]).unwrap()[0]
}

/// Writes a story as the pipeline does: with the generation of its current mark.
fn write(s: &dyn SiteStore, story: i64, texts: &[StoryArticle]) -> bool {
    let generation = s.dirty_stories().unwrap().into_iter().find(|d| d.id == story).map_or(0, |d| d.generation);
    s.put_story_texts(story, generation, texts).unwrap()
}

fn outlets_are_added_updated_and_listed_with_their_feeds(f: Fixture) {
    let s = f.store.as_ref();
    let outlet = |name: &str, feeds: &[&str]| Outlet {
        name: name.into(),
        homepage: format!("https://{name}.example/"),
        country: "FR".into(),
        languages: vec!["fr".into()],
        kind: OutletKind::Public,
        feeds: feeds.iter().map(|f| f.to_string()).collect(),
    };
    assert_eq!(s.put_outlets(&[outlet("a", &["https://a.example/rss"]), outlet("b", &[])]).unwrap(), (2, 0));
    let moved = Outlet { kind: OutletKind::Wire, ..outlet("b", &["https://a.example/rss", "https://b.example/atom"]) };
    assert_eq!(s.put_outlets(&[moved]).unwrap(), (0, 1));
    let list = s.outlets().unwrap();
    assert_eq!(list.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert!(list[0].feeds.is_empty(), "the feed moved to b");
    assert_eq!(list[1].feeds, ["https://a.example/rss", "https://b.example/atom"]);
    assert_eq!(list[1].kind, OutletKind::Wire);
    assert_eq!(list[1].languages, ["fr"]);
}

fn feeds_are_due_until_polled_and_keep_their_state(f: Fixture) {
    let s = f.store.as_ref();
    let o = Outlet {
        name: "o".into(),
        homepage: "https://o.example/".into(),
        country: "DE".into(),
        languages: vec!["de".into(), "en".into()],
        kind: OutletKind::Private,
        feeds: vec!["https://o.example/b".into(), "https://o.example/a".into()],
    };
    s.put_outlets(&[o]).unwrap();
    let now = time("2026-11-30T12:00:00Z").unwrap();
    let due = s.due_feeds(now).unwrap();
    assert_eq!(due.iter().map(|d| d.url.as_str()).collect::<Vec<_>>(), ["https://o.example/a", "https://o.example/b"]);
    assert_eq!(due[0].outlet_languages, ["de", "en"]);
    let poll = FeedUpdate {
        etag: Some("\"e1\"".into()),
        last_modified: None,
        next_check_at: now + Duration::minutes(30),
        fetched_at: now,
        error_count: 0,
        last_error: None,
        title: Some("O".into()),
    };
    s.record_feed_poll("https://o.example/a", &poll).unwrap();
    let due = s.due_feeds(now).unwrap();
    assert_eq!(due.iter().map(|d| d.url.as_str()).collect::<Vec<_>>(), ["https://o.example/b"]);
    let failed = FeedUpdate { etag: None, error_count: 2, last_error: Some("timeout".into()), title: None, ..poll };
    s.record_feed_poll("https://o.example/a", &failed).unwrap();
    let later = s.due_feeds(now + Duration::hours(1)).unwrap();
    let a = later.iter().find(|d| d.url == "https://o.example/a").unwrap();
    assert_eq!((a.etag.as_deref(), a.error_count, a.last_error.as_deref()), (Some("\"e1\""), 2, Some("timeout")));
}

fn insert_reports_new_unchanged_and_conflicting(f: Fixture) {
    let s = f.store.as_ref();
    let a = Article { authors: vec!["Ana Díaz".into(), "Li Wei".into()], ..article("a", "one") };
    let b = article("b", "one");
    let out = s.insert_articles(&[new(&a, "h1", None), new(&b, "h1", Some("a"))]).unwrap();
    assert_eq!(out, [InsertOutcome::Inserted, InsertOutcome::Inserted]);
    let a2 = article("a", "changed");
    let out = s.insert_articles(&[new(&a, "h1", None), new(&a2, "h2", None)]).unwrap();
    assert_eq!(out, [InsertOutcome::Unchanged, InsertOutcome::Conflict]);
    let stored = s.article("a").unwrap().unwrap();
    assert_eq!(stored.article, a, "stored version kept, every field (authors included) as given");
    assert_eq!(s.article("b").unwrap().unwrap().report_id(), "a");
    assert_eq!(s.stats().unwrap(), StoreStats { articles: 2, duplicates: 1, stories: 0, story_texts: 0 });
    assert_eq!(s.fingerprints().unwrap(), vec![("a".to_string(), vec![1, 2, 3]), ("b".to_string(), vec![1, 2, 3])]);
    assert!(s.article("zz").unwrap().is_none());
}

fn stories_assignment_texts_and_summaries(f: Fixture) {
    let s = f.store.as_ref();
    let (a, b, c) = (article("a", "x"), article("b", "y"), article("c", "x"));
    s.insert_articles(&[new(&a, "1", None), new(&b, "2", None), new(&c, "3", Some("a"))]).unwrap();
    assert_eq!(s.unclustered_articles().unwrap().len(), 3);
    let created = s.assign(2, &[("a".into(), Err(0)), ("b".into(), Err(1)), ("c".into(), Err(0))]).unwrap();
    assert_eq!(created.len(), 2);
    assert!(s.unclustered_articles().unwrap().is_empty());
    assert_eq!(s.dirty_stories().unwrap().iter().map(|d| d.id).collect::<Vec<_>>(), created);
    assert!(s.assign(0, &[("missing".into(), Ok(created[0]))]).is_err());
    let text = StoryArticle { title: "Written <title>".into(), ..written(created[0], "x") };
    assert!(write(s, created[0], std::slice::from_ref(&text)));
    assert_eq!(s.dirty_stories().unwrap().iter().map(|d| d.id).collect::<Vec<_>>(), vec![created[1]]);
    let detail = s.story_detail(created[0]).unwrap().unwrap();
    assert_eq!(detail.articles, vec![StoryArticle { revision: 1, ..text.clone() }], "stored as revision 1");
    assert_eq!(detail.summary.n_sources, 2);
    assert_eq!(detail.summary.n_independent, 1, "a copy is not an independent source");
    assert_eq!(detail.summary.title, "Written <title>");
    assert_eq!(detail.sources.iter().map(|r| r.article.id.as_str()).collect::<Vec<_>>(), ["a", "c"]);
    let list = s.story_summaries().unwrap();
    assert_eq!(list.len(), 2);
    let listed = list.iter().find(|x| x.id == created[0]).unwrap();
    assert_eq!(listed, &detail.summary, "the list and the page agree");
    assert!(s.story_detail(12345).unwrap().is_none());
    // Synthesis' finer count (a translation folded into its original) wins in lists.
    s.assign(0, &[("b".into(), Ok(created[0]))]).unwrap();
    let distinct_reports = s.story_summaries().unwrap().iter().find(|x| x.id == created[0]).unwrap().n_independent;
    assert_eq!(distinct_reports, 2, "the written article says 0 (unknown): the distinct reports count");
    let folded = StoryArticle { coverage: chorus_core::Coverage { independent: 1, ..Default::default() }, ..text };
    write(s, created[0], &[folded]);
    let summary = s.story_summaries().unwrap().into_iter().find(|x| x.id == created[0]).unwrap();
    assert_eq!((summary.n_sources, summary.n_independent), (3, 1));
    assert_eq!(s.story_detail(created[0]).unwrap().unwrap().summary.n_independent, 1);
    // Re-assigning to an existing story marks it dirty again.
    s.insert_articles(&[new(&article("d", "z"), "4", None)]).unwrap();
    s.assign(0, &[("d".into(), Ok(created[0]))]).unwrap();
    assert_eq!(s.dirty_stories().unwrap().iter().map(|d| d.id).collect::<Vec<_>>(), created);
}

fn a_mark_made_while_writing_is_not_lost(f: Fixture) {
    let s = f.store.as_ref();
    let story = with_story(s);
    let seen = s.dirty_stories().unwrap()[0];
    // Another process marks the story (a new source, an edited one) while it is written.
    assert!(s.mark_dirty(story).unwrap());
    assert!(!s.put_story_texts(story, seen.generation, &[written(story, "x")]).unwrap(), "not cleared");
    let again = s.dirty_stories().unwrap();
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), vec![story], "still dirty");
    assert!(again[0].generation > seen.generation);
    assert!(s.put_story_texts(story, again[0].generation, &[written(story, "x")]).unwrap());
    assert!(s.dirty_stories().unwrap().is_empty());
    assert!(!s.mark_dirty(987_654).unwrap(), "no such story");
}

fn vectors_round_trip(f: Fixture) {
    let s = f.store.as_ref();
    let a = article("a", "x");
    s.insert_articles(&[new(&a, "1", None)]).unwrap();
    assert_eq!(s.articles_without_vector("m").unwrap().len(), 1);
    s.put_article_vectors("m", &[("a".into(), vec![0.5, -1.0])]).unwrap();
    s.put_article_vectors("m", &[("a".into(), vec![0.25, -1.0])]).unwrap();
    assert!(s.articles_without_vector("m").unwrap().is_empty());
    assert_eq!(s.articles_without_vector("other-model").unwrap().len(), 1);
    let got = s.article_vectors("m", &["a".into(), "zz".into()]).unwrap();
    assert_eq!((got.len(), &got["a"]), (1, &vec![0.25, -1.0]));
    s.put_sentence_vectors("m", &[(u64::MAX, vec![1.0]), (7, vec![f32::MIN_POSITIVE, 3.5])]).unwrap();
    let sv = s.sentence_vectors("m", &[u64::MAX, 7, 8]).unwrap();
    assert_eq!((sv.len(), &sv[&u64::MAX], &sv[&7]), (2, &vec![1.0], &vec![f32::MIN_POSITIVE, 3.5]));
    let story = s.assign(1, &[("a".into(), Err(0))]).unwrap()[0];
    let clustered = s.clustered_vectors("m").unwrap();
    assert_eq!(clustered.len(), 1);
    assert_eq!((clustered[0].story_id, clustered[0].lead.as_str()), (story, "Title\nx"));
    assert_eq!(clustered[0].vector, vec![0.25, -1.0]);
}

fn only_open_stories_are_restored_and_statistics_saved_with_assignments(f: Fixture) {
    let s = f.store.as_ref();
    // Story 1: 1–3 January (long closed); story 2: 20–28 January (recent); story 3: undated.
    let dated = |id: &str, when: &str| Article { published: time(when), ..article(id, "x") };
    let arts = [
        dated("old1", "2026-01-01T00:00:00Z"),
        dated("old2", "2026-01-03T00:00:00Z"),
        dated("new1", "2026-01-20T00:00:00Z"),
        dated("new2", "2026-01-28T00:00:00Z"),
        Article { published: None, ..article("undated", "x") },
    ];
    let rows: Vec<_> = arts.iter().map(|a| new(a, &a.id, None)).collect();
    s.insert_articles(&rows).unwrap();
    let vectors: Vec<(String, Vec<f32>)> = arts.iter().map(|a| (a.id.clone(), vec![1.0, 0.0])).collect();
    s.put_article_vectors("m", &vectors).unwrap();
    assert_eq!(s.cluster_state("m").unwrap(), None);
    let state = ClusterState { model: "m".into(), articles: 4, observed: vec![7; 1000] };
    let ids = s
        .assign_observed(
            2,
            &[("old1".into(), Err(0)), ("old2".into(), Err(0)), ("new1".into(), Err(1)), ("new2".into(), Err(1))],
            &state,
        )
        .unwrap();
    assert_eq!(s.cluster_state("m").unwrap(), Some(state));
    assert_eq!(s.cluster_state("other").unwrap(), None);
    assert_eq!(s.clustered_count("m").unwrap(), 4);
    let third = s.assign(1, &[("undated".into(), Err(0))]).unwrap()[0];
    assert_eq!(s.clustered_count("m").unwrap(), 5);
    assert_eq!(s.clustered_count("other").unwrap(), 0);
    // An article of 30 January with a 7-day window and a 21-day lifetime.
    let open = |latest: &str, earliest: &str| {
        let mut got: Vec<(i64, Option<DateTime<Utc>>)> = s
            .open_story_vectors("m", time(latest).unwrap(), time(earliest).unwrap())
            .unwrap()
            .into_iter()
            .map(|v| (v.story_id, v.published))
            .collect();
        got.sort();
        got
    };
    assert_eq!(
        open("2026-01-23T00:00:00Z", "2026-01-09T00:00:00Z"),
        vec![(ids[1], time("2026-01-20T00:00:00Z")), (ids[1], time("2026-01-28T00:00:00Z")), (third, None)]
    );
    // For an article on 12 February story 2 has been quiet too long (last article on the 28th).
    assert_eq!(open("2026-02-05T00:00:00Z", "2026-01-22T00:00:00Z"), vec![(third, None)]);
    assert_eq!(open("2025-12-01T00:00:00Z", "2025-12-01T00:00:00Z").len(), 5);
    // A later save replaces the earlier one.
    let later = ClusterState { model: "m".into(), articles: 5, observed: vec![1, 2] };
    s.assign_observed(0, &[], &later).unwrap();
    assert_eq!((f.reopen)().cluster_state("m").unwrap(), Some(later));
}

fn rechecks_record_edits_and_removals(f: Fixture) {
    let s = f.store.as_ref();
    let story = with_story(s);
    write(s, story, &[written(story, "x")]);
    let due = time("2026-11-30T10:00:00Z").unwrap();
    s.schedule_rechecks(&["a".into(), "missing".into()], due).unwrap();
    s.schedule_rechecks(&["a".into()], due + Duration::days(3)).unwrap();
    assert!(s.due_rechecks(due - Duration::seconds(1), 10).unwrap().is_empty());
    let now = due + Duration::hours(1);
    let list = s.due_rechecks(now, 10).unwrap();
    assert_eq!((list.len(), list[0].record.article.id.as_str(), list[0].checks_done), (1, "a", 0));
    let failed = RecheckOutcome::Failed { reason: "timeout".into() };
    s.record_recheck("a", &failed, now, Some(now + Duration::hours(1))).unwrap();
    assert_eq!(
        s.due_rechecks(now + Duration::hours(2), 10).unwrap()[0].checks_done,
        0,
        "a failed check does not count"
    );
    let changed = RecheckOutcome::Changed {
        title: "T2".into(),
        text: "Text, edited.".into(),
        content_hash: "h2".into(),
        fingerprint: vec![9],
        detail: "text changed".into(),
    };
    s.record_recheck("a", &changed, now, Some(now + Duration::days(6))).unwrap();
    assert_eq!(s.article("a").unwrap().unwrap().article.text, "Text, edited.");
    assert_eq!(s.dirty_stories().unwrap().iter().map(|d| d.id).collect::<Vec<_>>(), vec![story], "rewrite the story");
    let gone = RecheckOutcome::Vanished { reason: "404".into() };
    s.record_recheck("a", &gone, now + Duration::days(7), None).unwrap();
    let revisions = s.article_revisions("a").unwrap();
    assert_eq!(revisions.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["changed", "vanished"]);
    assert_eq!((revisions[0].old_title.as_str(), revisions[1].old_body.as_str()), ("T", "Text, edited."));
    assert!(s.due_rechecks(now + Duration::days(30), 10).unwrap().is_empty(), "no checks left");
}

fn machine_rewrites_and_editor_corrections_are_numbered_revisions(f: Fixture) {
    let s = f.store.as_ref();
    let id = with_story(s);
    let text = written(id, "Twelve people died.");
    write(s, id, std::slice::from_ref(&text));
    // The same text again (a new source that changes nothing) keeps revision 1.
    s.mark_dirty(id).unwrap();
    write(s, id, &[StoryArticle { written_at: Utc::now(), ..text.clone() }]);
    assert_eq!(s.story_revisions(id, "en").unwrap().len(), 1);
    s.add_report(&NewReport {
        id: "r1".into(),
        story_id: id,
        lang: "en".into(),
        kind: "factual".into(),
        body: "Fifteen, not twelve.".into(),
        source_url: Some("https://example.org/x".into()),
        created_at: Utc::now(),
    })
    .unwrap();
    assert_eq!(s.reports(Some("open"), 10).unwrap().len(), 1);
    assert_eq!(s.reports(None, 10).unwrap().len(), 1);
    let mut fixed = text.clone();
    fixed.title = "Fifteen dead".into();
    let n = s.publish_revision(&fixed, "alice", "Death toll corrected", Some("r1")).unwrap();
    assert_eq!(n, 2);
    let current = s.story_detail(id).unwrap().unwrap().articles.remove(0);
    assert_eq!((current.revision, current.title.as_str(), current.edited_by.as_str()), (2, "Fifteen dead", "alice"));
    let report = s.report("r1").unwrap().unwrap();
    assert_eq!((report.status.as_str(), report.revision), ("accepted", Some(2)));
    assert_eq!(report.reason.as_deref(), Some("Death toll corrected"));
    assert_eq!(report.resolved_by.as_deref(), Some("alice"));
    let history = s.story_revisions(id, "en").unwrap();
    assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(history[1].report_id.as_deref(), Some("r1"));
    let (info, old) = s.story_revision(id, "en", 1).unwrap().unwrap();
    assert_eq!((info.edited_by.as_str(), old.title.as_str()), ("chorus", "Twelve dead"));
    assert!(s.story_revision(id, "en", 9).unwrap().is_none());
    // The pipeline writing the text the editor corrected again changes nothing.
    s.mark_dirty(id).unwrap();
    write(s, id, std::slice::from_ref(&text));
    assert_eq!(s.story_revisions(id, "en").unwrap().len(), 2);
    assert!(s.drafts().unwrap().is_empty());
    // A new machine text does not overwrite the correction: it waits for review.
    let mut rewritten = text.clone();
    rewritten.paragraphs[0][0].text = "Fourteen people died.".into();
    s.mark_dirty(id).unwrap();
    write(s, id, std::slice::from_ref(&rewritten));
    let current = s.story_detail(id).unwrap().unwrap().articles.remove(0);
    assert_eq!((current.revision, current.title.as_str()), (2, "Fifteen dead"), "the correction stands");
    assert_eq!(s.drafts().unwrap().iter().map(|d| (d.0, d.1.as_str())).collect::<Vec<_>>(), vec![(id, "en")]);
    assert!(s.draft(id, "en").unwrap().is_some());
    assert!(s.discard_draft(id, "en").unwrap());
    assert!(!s.discard_draft(id, "en").unwrap());
    s.mark_dirty(id).unwrap();
    write(s, id, std::slice::from_ref(&rewritten));
    assert_eq!(s.accept_draft(id, "en", "bob").unwrap(), Some(3));
    assert_eq!(s.accept_draft(id, "en", "bob").unwrap(), None, "nothing waiting");
    let current = s.story_detail(id).unwrap().unwrap().articles.remove(0);
    assert_eq!((current.revision, current.edited_by.as_str()), (3, "chorus"));
    assert!(s.story_revisions(id, "en").unwrap()[2].note.contains("published by bob"));
    // Back to machine-written: the next rewrite is published directly.
    rewritten.paragraphs[0][0].text = "Sixteen people died.".into();
    s.mark_dirty(id).unwrap();
    write(s, id, &[rewritten]);
    assert_eq!(s.story_revisions(id, "en").unwrap().last().unwrap().revision, 4);
    assert!(s.resolve_report("r1", "rejected", "changed my mind", "bob", Utc::now()).unwrap());
    assert!(!s.resolve_report("nope", "rejected", "x", "bob", Utc::now()).unwrap());
    assert_eq!(s.story_reports(id).unwrap()[0].status, "rejected");
    // A later revision answering a decided report keeps the decision.
    s.publish_revision(&fixed, "carol", "Another fix", Some("r1")).unwrap();
    let report = s.report("r1").unwrap().unwrap();
    assert_eq!(
        (report.status.as_str(), report.reason.as_deref(), report.revision),
        ("rejected", Some("changed my mind"), Some(5))
    );
    assert!(s.mark_dirty(id).unwrap());
    assert_eq!(s.dirty_stories().unwrap().iter().map(|d| d.id).collect::<Vec<_>>(), vec![id]);
}

fn concurrent_editors_get_distinct_revision_numbers(f: Fixture) {
    let id = with_story(f.store.as_ref());
    write(f.store.as_ref(), id, &[written(id, "x")]);
    let other = (f.reopen)();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 { f.store.clone() } else { other.clone() };
            let text = written(id, &format!("version {i}"));
            std::thread::spawn(move || s.publish_revision(&text, &format!("editor{i}"), "fix", None).unwrap())
        })
        .collect();
    let mut numbers: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=9).collect::<Vec<_>>(), "every revision number once");
    assert_eq!(f.store.story_revisions(id, "en").unwrap().len(), 9);
}

fn a_second_handle_sees_the_same_data(f: Fixture) {
    let id = with_story(f.store.as_ref());
    let other = (f.reopen)();
    assert_eq!(other.stats().unwrap().stories, 1);
    assert!(other.mark_dirty(id).unwrap());
    assert_eq!(f.store.dirty_stories().unwrap().len(), 1);
}

fn users_sessions_views_and_related(f: Fixture) {
    let s = f.store.as_ref();
    let id = with_story(s);
    assert!(s.put_user("alice", "$argon2id$x", Utc::now()).unwrap());
    let session = Session { user: "alice".into(), csrf: "c".into(), expires_at: Utc::now() + Duration::hours(1) };
    s.create_session("h1", &session).unwrap();
    let found = s.session("h1", Utc::now()).unwrap().unwrap();
    assert_eq!((found.user.as_str(), found.csrf.as_str()), ("alice", "c"));
    assert_eq!(s.session("h1", Utc::now() + Duration::hours(2)).unwrap(), None, "expired");
    assert!(!s.put_user("alice", "$argon2id$y", Utc::now()).unwrap(), "password replaced");
    assert_eq!(s.user_password_hash("alice").unwrap().as_deref(), Some("$argon2id$y"));
    assert_eq!(s.user_password_hash("bob").unwrap(), None);
    assert_eq!(s.session("h1", Utc::now()).unwrap(), None, "a new password ends old sessions");
    s.create_session("h2", &session).unwrap();
    s.delete_session("h2", Utc::now()).unwrap();
    assert_eq!(s.session("h2", Utc::now()).unwrap(), None);

    assert!(s.record_view(id, "2026-11-27", b"v1", "2026-11-26").unwrap());
    assert!(!s.record_view(id, "2026-11-27", b"v1", "2026-11-26").unwrap(), "same visitor, same day");
    assert!(s.record_view(id, "2026-11-27", b"v2", "2026-11-26").unwrap());
    assert!(s.record_view(id, "2026-11-29", b"v1", "2026-11-28").unwrap(), "another day");
    assert_eq!(s.story_views(id).unwrap(), 3);
    assert_eq!(s.story_views(id + 1).unwrap(), 0);
    // A batch: one transaction, one answer per view, repeats inside it and against what is
    // stored not counted.
    let view = |day: &str, visitor: &[u8]| StoryView { story: id, day: day.into(), visitor: visitor.to_vec() };
    let batch =
        [view("2026-11-29", b"v1"), view("2026-11-29", b"v3"), view("2026-11-29", b"v3"), view("2026-11-29", b"v4")];
    assert_eq!(s.record_views(&batch, "2026-11-28").unwrap(), [false, true, false, true]);
    assert_eq!(s.story_views(id).unwrap(), 5);
    assert_eq!(s.record_views(&[], "2026-11-28").unwrap(), Vec::<bool>::new());
    s.put_related(id, &[(7, 0.5), (8, 0.7)]).unwrap();
    assert_eq!(s.related(id).unwrap(), vec![(8, 0.7), (7, 0.5)]);
    s.put_related(id, &[(9, 0.9)]).unwrap();
    assert_eq!(s.related(id).unwrap(), vec![(9, 0.9)], "replaced, not added to");
}

fn claims_are_exclusive_and_retaken_when_a_lease_runs_out(f: Fixture) {
    let a = f.store.as_ref();
    let other = (f.reopen)();
    let b = other.as_ref();
    let arts: Vec<Article> = (0..3).map(|i| article(&format!("x{i}"), &format!("text {i}"))).collect();
    a.insert_articles(&arts.iter().map(|x| new(x, &x.id, None)).collect::<Vec<_>>()).unwrap();
    let short = Duration::milliseconds(1500);
    let first = a.claim_unembedded("m", "worker-a", short, 2).unwrap();
    assert_eq!(first.iter().map(|r| r.article.id.as_str()).collect::<Vec<_>>(), ["x0", "x1"]);
    let second = b.claim_unembedded("m", "worker-b", Duration::minutes(5), 10).unwrap();
    assert_eq!(second.iter().map(|r| r.article.id.as_str()).collect::<Vec<_>>(), ["x2"], "never the same item twice");
    assert!(b.claim_unembedded("m", "worker-b", Duration::minutes(5), 10).unwrap().is_empty());
    // worker-a dies without finishing: once its lease has run out, its items are taken again.
    std::thread::sleep(std::time::Duration::from_millis(1700));
    let retaken = b.claim_unembedded("m", "worker-b", Duration::minutes(5), 10).unwrap();
    assert_eq!(retaken.iter().map(|r| r.article.id.as_str()).collect::<Vec<_>>(), ["x0", "x1"]);
    // Done items are no longer pending; released ones are free at once.
    b.put_article_vectors("m", &[("x0".into(), vec![1.0])]).unwrap();
    b.release(chorus_store::Work::Embed, "worker-b", &["x0".into(), "x1".into()]).unwrap();
    let again = a.claim_unembedded("m", "worker-a", short, 10).unwrap();
    assert_eq!(again.iter().map(|r| r.article.id.as_str()).collect::<Vec<_>>(), ["x1"]);

    // Stories to write.
    let stories = a.assign(3, &[("x0".into(), Err(0)), ("x1".into(), Err(1)), ("x2".into(), Err(2))]).unwrap();
    let mine = a.claim_dirty_stories("worker-a", Duration::minutes(5), 2).unwrap();
    assert_eq!(mine.iter().map(|d| d.id).collect::<Vec<_>>(), stories[..2]);
    let theirs = b.claim_dirty_stories("worker-b", Duration::minutes(5), 5).unwrap();
    assert_eq!(theirs.iter().map(|d| d.id).collect::<Vec<_>>(), stories[2..]);
    assert!(b.put_story_texts(theirs[0].id, theirs[0].generation, &[written(theirs[0].id, "x")]).unwrap());
    b.release(chorus_store::Work::Write, "worker-b", &[theirs[0].id.to_string()]).unwrap();
    assert!(b.claim_dirty_stories("worker-b", Duration::minutes(5), 5).unwrap().is_empty(), "the rest is leased");
    a.release(chorus_store::Work::Write, "worker-a", &mine.iter().map(|d| d.id.to_string()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(b.claim_dirty_stories("worker-b", Duration::minutes(5), 5).unwrap().len(), 2, "released: free");

    // Feeds to poll.
    a.put_outlets(&[Outlet {
        name: "o".into(),
        homepage: "https://o.example/".into(),
        country: "FR".into(),
        languages: vec!["fr".into()],
        kind: OutletKind::Public,
        feeds: vec!["https://o.example/1".into(), "https://o.example/2".into()],
    }])
    .unwrap();
    let now = Utc::now();
    let fa = a.claim_due_feeds(now, "worker-a", Duration::minutes(5), 1).unwrap();
    let fb = b.claim_due_feeds(now, "worker-b", Duration::minutes(5), 5).unwrap();
    assert_eq!((fa.len(), fb.len()), (1, 1));
    assert_ne!(fa[0].url, fb[0].url);

    // Sources to re-check.
    a.schedule_rechecks(&["x0".into(), "x1".into(), "x2".into()], now).unwrap();
    let ra = a.claim_due_rechecks(now, "worker-a", short, 2).unwrap();
    let rb = b.claim_due_rechecks(now, "worker-b", Duration::minutes(5), 5).unwrap();
    let ids = |r: &[chorus_store::Recheck]| r.iter().map(|c| c.record.article.id.clone()).collect::<Vec<_>>();
    assert_eq!((ids(&ra).len(), ids(&rb)), (2, vec!["x2".to_string()]), "never the same source twice");
    b.record_recheck("x2", &RecheckOutcome::Unchanged, now, None).unwrap();
    b.release(chorus_store::Work::Recheck, "worker-b", &["x2".into()]).unwrap();
    assert!(b.claim_due_rechecks(now, "worker-b", Duration::minutes(5), 5).unwrap().is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1700));
    let mut retaken = ids(&b.claim_due_rechecks(now, "worker-b", Duration::minutes(5), 5).unwrap());
    retaken.sort();
    assert_eq!(retaken, ["x0", "x1"], "a dead worker's checks are taken again; a done one is not due");
}

fn one_process_leads_and_another_takes_over_when_it_goes(f: Fixture) {
    let other = (f.reopen)();
    let mut lead = f.store.try_lead("cluster").unwrap().expect("the first process leads");
    assert!(lead.still_leading());
    assert!(other.try_lead("cluster").unwrap().is_none(), "one leader at a time");
    assert!(other.try_lead("other-role").unwrap().is_some(), "roles lead separately");
    drop(lead);
    assert!(other.try_lead("cluster").unwrap().is_some(), "the role is free once its leader is gone");
}

fn a_web_node_hears_of_texts_written_by_another_process(f: Fixture) {
    let id = with_story(f.store.as_ref());
    let mut watch = f.store.watch_texts().unwrap().expect("a shared database can be watched");
    assert!(!watch.wait(std::time::Duration::from_millis(300)).unwrap(), "nothing written yet");
    let writer = (f.reopen)();
    write(writer.as_ref(), id, &[written(id, "x")]);
    assert!(watch.wait(std::time::Duration::from_secs(3)).unwrap(), "the other process's text is heard of");
    assert!(!watch.wait(std::time::Duration::from_millis(300)).unwrap(), "once");
    writer.publish_revision(&written(id, "fixed"), "alice", "fix", None).unwrap();
    assert!(watch.wait(std::time::Duration::from_secs(3)).unwrap(), "an editor's revision too");
}

macro_rules! conformance {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    if let Some(f) = super::$backend() {
                        super::$case(f);
                    }
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        conformance!(sqlite: $($case),*);
        conformance!(postgres: $($case),*);
    };
}

conformance!(
    outlets_are_added_updated_and_listed_with_their_feeds,
    feeds_are_due_until_polled_and_keep_their_state,
    insert_reports_new_unchanged_and_conflicting,
    stories_assignment_texts_and_summaries,
    a_mark_made_while_writing_is_not_lost,
    vectors_round_trip,
    only_open_stories_are_restored_and_statistics_saved_with_assignments,
    rechecks_record_edits_and_removals,
    machine_rewrites_and_editor_corrections_are_numbered_revisions,
    concurrent_editors_get_distinct_revision_numbers,
    a_second_handle_sees_the_same_data,
    users_sessions_views_and_related,
    claims_are_exclusive_and_retaken_when_a_lease_runs_out,
    one_process_leads_and_another_takes_over_when_it_goes,
    a_web_node_hears_of_texts_written_by_another_process,
);

#[test]
fn postgres_migrations_apply_once_and_a_newer_schema_is_refused() {
    let Some(db) = TestDatabase::create() else { return };
    let s = db.store().unwrap();
    let version = s.schema_version().unwrap();
    assert!(version >= 1);
    drop(s);
    // Two processes opening the same database at once both see one schema.
    let (a, b) = (db.url.clone(), db.url.clone());
    let t1 = std::thread::spawn(move || PgStore::connect_with(&a, 1).map(|s| s.schema_version().unwrap()));
    let t2 = std::thread::spawn(move || PgStore::connect_with(&b, 1).map(|s| s.schema_version().unwrap()));
    assert_eq!(t1.join().unwrap().unwrap(), version);
    assert_eq!(t2.join().unwrap().unwrap(), version);
    let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    c.execute("INSERT INTO chorus_schema_migrations (version, applied_at) VALUES (99, now())", &[]).unwrap();
    match PgStore::connect(&db.url) {
        Err(chorus_store::StoreError::TooNew { found: 99, .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a newer schema"),
    }
}

#[test]
fn bad_addresses_are_clear_errors() {
    let err = chorus_store::open("mysql://u:secret@h/db").err().unwrap().to_string();
    assert!(err.contains("expected postgres://") && !err.contains("secret"), "{err}");
    let err = PgStore::connect("postgres://u:secret@127.0.0.1:1/db").err().unwrap().to_string();
    assert!(!err.contains("secret"), "{err}");
}
