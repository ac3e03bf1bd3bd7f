//! The picture of a run: its structure read back with an XML parser (not a byte snapshot), its
//! determinism, the size cap and the `--timeline` option.

use locksim::runner::{run, RunArtifacts};
use locksim::scenario::{resolve, Scenario};
use locksim::timeline::Timeline;
use roxmltree::{Document, Node, ParsingOptions};
use sim::{ClusterEvent, Record};

/// Seed 1 of `pause-no-fencing`: c3 holds the lock when the pause at 10 s hits it.
const SEED: u64 = 1;

fn render(name: &str, seed: u64) -> (Scenario, RunArtifacts, String) {
    let scenario = resolve(name).unwrap();
    let artifacts = run(&scenario, seed).unwrap();
    let html = Timeline::new(&scenario, &artifacts).render();
    (scenario, artifacts, html)
}

fn parse(html: &str) -> Document<'_> {
    let options = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(html, options).expect("the timeline is well-formed XHTML")
}

fn attr<'a>(node: Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
}

fn num(node: Node, name: &str) -> f64 {
    attr(node, name).parse().unwrap()
}

fn has_class(node: &Node, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

fn text(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element #{id}"))
}

fn lane<'a, 'i>(svg: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    svg.descendants()
        .find(|n| has_class(n, "lane") && n.attribute("data-lane") == Some(name))
}

/// The names of the store's lanes (etcd members, AP nodes and sentinels), top to bottom.
fn member_lanes(svg: Node) -> Vec<String> {
    svg.descendants()
        .filter(|n| has_class(n, "lane") && has_class(n, "member"))
        .map(|n| attr(n, "data-lane").to_string())
        .collect()
}

/// `(class, member, title)` of every role span (leader, primary, down) in a view.
fn role_spans(svg: Node) -> Vec<(String, String, String)> {
    svg.descendants()
        .filter(|n| has_class(n, "role"))
        .map(|n| {
            let class = ["leader", "primary", "down"]
                .into_iter()
                .find(|c| has_class(&n, c))
                .unwrap_or("?");
            let title = n
                .descendants()
                .find(|t| t.has_tag_name("title"))
                .map(text)
                .unwrap_or_default();
            (class.to_string(), attr(n, "data-member").to_string(), title)
        })
        .collect()
}

/// The x of the axis tick labelled `label` (`"10 s"`).
fn tick_x(svg: Node, label: &str) -> f64 {
    let tick = svg
        .descendants()
        .find(|n| has_class(n, "tick") && text(*n) == label)
        .unwrap_or_else(|| panic!("no tick {label}"));
    num(tick, "x")
}

mod pause_no_fencing {
    use super::*;

    #[test]
    fn lanes_caption_and_pause_band() {
        let (_, artifacts, html) = render("pause-no-fencing", SEED);
        let doc = parse(&html);
        let paused = artifacts
            .records
            .iter()
            .find_map(|r| match r {
                Record::Event {
                    event: ClusterEvent::Pause { host },
                    ..
                } => Some(host.clone()),
                _ => None,
            })
            .expect("the scenario pauses the holder");

        for view in ["zoom-svg", "whole-svg"] {
            let svg = by_id(&doc, view);
            for name in ["c1", "c2", "c3", "n1", "n2", "n3"] {
                assert!(lane(svg, name).is_some(), "{view}: no lane {name}");
            }
            // Every violation is highlighted in the whole run; the zoom shows the first.
            let marks = svg
                .descendants()
                .filter(|n| has_class(n, "violation"))
                .count();
            if view == "whole-svg" {
                assert_eq!(marks, artifacts.outcome.violations.len());
            } else {
                assert!(marks >= 1);
            }
        }

        // The headline names the double hold, the pause and the damage.
        let headline = text(by_id(&doc, "headline"));
        assert!(headline.contains("both held lock/ from"), "{headline}");
        assert!(
            headline.contains(&format!("{paused} was paused 10–25 s")),
            "{headline}"
        );
        assert!(headline.contains("→ lost update"), "{headline}");
        // And each double hold has its own caption in the list.
        let captions: Vec<String> = by_id(&doc, "whole")
            .descendants()
            .filter(|n| has_class(n, "violation") && has_class(n, "mutual_exclusion"))
            .filter(|n| n.tag_name().name() == "li")
            .map(text)
            .collect();
        assert!(!captions.is_empty());
        assert!(
            captions.iter().all(|c| c.contains("both held")),
            "{captions:?}"
        );

        // The pause band lies over the paused client's lane, from 10 s to 25 s on the axis.
        let whole = by_id(&doc, "whole-svg");
        let lane_bg = lane(whole, &paused)
            .unwrap()
            .children()
            .find(|n| has_class(n, "lane-bg"))
            .unwrap();
        let band = whole
            .descendants()
            .find(|n| has_class(n, "fault") && has_class(n, "pause"))
            .expect("a pause band");
        assert_eq!(attr(band, "data-lane"), paused);
        assert_eq!(attr(band, "data-fault"), format!("pause {paused}"));
        assert_eq!(num(band, "y"), num(lane_bg, "y"));
        assert_eq!(num(band, "height"), num(lane_bg, "height"));
        let (x, w) = (num(band, "x"), num(band, "width"));
        assert!(
            (x - tick_x(whole, "10 s")).abs() < 0.2,
            "band starts at {x}"
        );
        assert!(
            (x + w - tick_x(whole, "25 s")).abs() < 0.2,
            "band ends at {}",
            x + w
        );

        // The default view is the window around the first violation, linked to the whole run.
        let zoom = by_id(&doc, "zoom-svg");
        let (from, to) = (num(zoom, "data-from-ms"), num(zoom, "data-to-ms"));
        assert!(from <= 10_000.0 && to >= 25_000.0 && to - from < 30_000.0);
        assert!(doc
            .descendants()
            .any(|n| n.attribute("href") == Some("#whole")));
    }

    #[test]
    fn same_seed_same_bytes() {
        let (scenario, mut artifacts, first) = render("pause-no-fencing", SEED);
        let (_, _, second) = render("pause-no-fencing", SEED);
        assert!(first == second, "two renders of seed {SEED} differ");
        // The wall-clock time of the run is not in the picture.
        artifacts.outcome.wall_ms += 12_345;
        assert!(first == Timeline::new(&scenario, &artifacts).render());
    }

    #[test]
    fn size_cap_drops_detail_never_violations() {
        let (scenario, artifacts, full) = render("pause-no-fencing", SEED);
        let cap = full.len() / 2;
        let capped = Timeline::new(&scenario, &artifacts).max_bytes(cap).render();
        assert!(capped.len() <= cap, "{} > {cap}", capped.len());
        let doc = parse(&capped);
        assert!(text(doc.root_element()).contains("Not drawn, to keep the file under"));
        let whole = by_id(&doc, "whole-svg");
        let marks = whole
            .descendants()
            .filter(|n| has_class(n, "violation"))
            .count();
        assert_eq!(marks, artifacts.outcome.violations.len());
        // Even with no room at all, violations and lanes stay.
        let tiny = Timeline::new(&scenario, &artifacts).max_bytes(1).render();
        let doc = parse(&tiny);
        let whole = by_id(&doc, "whole-svg");
        assert!(lane(whole, "c3").is_some());
        assert_eq!(
            whole
                .descendants()
                .filter(|n| has_class(n, "violation"))
                .count(),
            artifacts.outcome.violations.len()
        );
    }
}

mod leader_crash {
    use super::*;

    /// No violation: one picture of the whole run, the crash on the crashed member's lane.
    #[test]
    fn whole_run_only_with_roles_and_crash() {
        let (_, _, html) = render("etcd-mutex-leader-crash-safe", 1);
        let doc = parse(&html);
        assert!(!doc
            .descendants()
            .any(|n| n.attribute("id") == Some("zoom-svg")));
        assert!(text(by_id(&doc, "headline")).contains("No safety violation"));
        let whole = by_id(&doc, "whole-svg");
        for name in ["c1", "c5", "n1", "n2", "n3"] {
            assert!(lane(whole, name).is_some(), "no lane {name}");
        }
        let crash = whole
            .descendants()
            .find(|n| has_class(n, "fault") && has_class(n, "crash"))
            .expect("a crash band");
        let crashed = attr(crash, "data-lane");
        assert!(crashed.starts_with('n'), "{crashed}");
        assert!(whole.descendants().any(|n| has_class(&n, "role")
            && has_class(&n, "down")
            && n.attribute("data-member") == Some(crashed)));
        assert!(
            whole
                .descendants()
                .filter(|n| has_class(n, "role") && has_class(n, "leader"))
                .count()
                >= 2
        );
    }
}

/// The AP worlds: a lane for each of their hosts (nodes `r1..`, redis's sentinels `s1..s3`),
/// none for etcd members they do not have; the redis primary as a role over time.
mod ap {
    use super::*;

    #[test]
    fn redis_lanes_are_its_nodes_and_sentinels() {
        let (_, artifacts, html) = render("ap-failover", 1);
        assert_eq!(
            artifacts.outcome.verdict,
            locksim::verdict::MutualExclusion::Violated
        );
        let doc = parse(&html);
        for view in ["zoom-svg", "whole-svg"] {
            let svg = by_id(&doc, view);
            assert_eq!(
                member_lanes(svg),
                ["r1", "r2", "r3", "s1", "s2", "s3"],
                "{view}"
            );
            for name in ["c1", "c2", "c3"] {
                assert!(lane(svg, name).is_some(), "{view}: no lane {name}");
            }
        }
        let whole = by_id(&doc, "whole-svg");
        // The plan crashes the primary at 12 s: the band is on r1's lane, r1 was primary from
        // the start until then, is down for the crash, and another node is promoted.
        let crash = whole
            .descendants()
            .find(|n| has_class(n, "fault") && has_class(n, "crash"))
            .expect("a crash band");
        assert_eq!(attr(crash, "data-lane"), "r1");
        let spans = role_spans(whole);
        assert!(
            spans.iter().any(|(c, m, t)| c == "primary"
                && m == "r1"
                && t.contains("epoch 0")
                && t.contains("from 0.000 s to 12.000 s")),
            "{spans:?}"
        );
        assert!(
            spans
                .iter()
                .any(|(c, m, t)| c == "down" && m == "r1" && t.contains("crashed at 12.000 s")),
            "{spans:?}"
        );
        assert!(
            spans
                .iter()
                .any(|(c, m, t)| c == "primary" && m != "r1" && t.contains("failover")),
            "{spans:?}"
        );
        assert!(spans.iter().all(|(c, ..)| c != "leader"), "{spans:?}");
        // Idle nodes are replicas, sentinels are sentinels: no etcd follower here.
        assert!(html.contains("r3 replica ("));
        assert!(html.contains("s1 sentinel ("));
        assert!(!html.contains(" follower ("));
    }

    #[test]
    fn redlock_lanes_are_its_masters() {
        let (_, _, html) = render("redlock-clock-jump", 1);
        let doc = parse(&html);
        let whole = by_id(&doc, "whole-svg");
        assert_eq!(member_lanes(whole), ["r1", "r2", "r3", "r4", "r5"]);
        // Every master is a primary all the time: no role span but down ones.
        assert!(role_spans(whole).iter().all(|(c, ..)| c == "down"));
        assert!(html.contains("r1 master ("));
    }

    /// And etcd's lanes stay its members.
    #[test]
    fn etcd_lanes_are_its_members() {
        let (_, _, html) = render("etcd-mutex-leader-crash-safe", 1);
        let doc = parse(&html);
        assert_eq!(member_lanes(by_id(&doc, "whole-svg")), ["n1", "n2", "n3"]);
        assert!(html.contains("n1 follower ("));
    }
}

mod cli {
    use super::*;

    #[test]
    fn replay_writes_the_same_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.html");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_locksim"))
            .args(["replay", "pause-no-fencing", "--seed", "1", "--timeline"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let (_, _, html) = render("pause-no-fencing", 1);
        assert!(std::fs::read_to_string(&path).unwrap() == html);
    }
}

/// The healed phase returns the network to its default latency: that is not a fault, so no band
/// is drawn for it (it once was, as "latency 10–10 ms everywhere"); the AP store's commands are
/// operations with marks and titles in redis-cli's words.
#[test]
fn the_healed_phase_is_not_a_fault_and_ap_commands_are_drawn() {
    let (_, artifacts, html) = render("pause-no-fencing", 1);
    assert!(
        !html.contains("latency 10–10"),
        "the latency reset drawn as a fault"
    );
    let kinds: Vec<_> = artifacts.outcome.faults.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [sim::FaultKind::Pause]);
    let (_, artifacts, html) = render("ap-failover", 1);
    assert!(artifacts.outcome.ops > 0);
    assert!(
        html.contains("SET lock &quot;c") || html.contains("SET lock \"c"),
        "no AP command titles"
    );
}

/// A ZooKeeper run: the servers' leader spans, the cut-off holder's session drawn Disconnected
/// until it learned Expired, and the leader's expiry of that session.
#[test]
fn a_zk_run_shows_leaders_session_gaps_and_expiries() {
    let (_, artifacts, html) = render("zk-client-partitioned", 1);
    let doc = parse(&html);
    let expired = artifacts.records.iter().any(|r| {
        matches!(
            r,
            Record::Event {
                event: ClusterEvent::SessionExpired { .. },
                ..
            }
        )
    });
    assert!(expired, "the story expires the holder's session");
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("Disconnected from") && t.contains("learned Expired")),
        "no session gap drawn"
    );
    assert!(titles
        .iter()
        .any(|t| t.contains("(leader) expired session")));
    assert!(titles.iter().any(|t| t.contains("leader in term")));
}
