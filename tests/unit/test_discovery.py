from chargeback.bills.discovery import classify, select_month
from chargeback.storage import ObjectInfo


def infos(*keys: str) -> list[ObjectInfo]:
    return [ObjectInfo(k, 10, "e") for k in keys]


def test_newest_v2_snapshot_supersedes_older_ones():
    objects = infos(
        "bills/202605/20260520100000/1001_2688801000001_consumeDetailBillV2_202605.zip",
        "bills/202605/20260603170000/1001_2688801000001_consumeDetailBillV2_202605.zip",
        "bills/202605/20260603170000/1001_2688801000001_consumeDetailBillV2_202605_2.zip",
        "bills/202605/20260603170000/1001_2688801000001_splitDetailBillV2_202605.zip",
        "bills/202604/20260503170000/1001_2688801000001_consumeDetailBillV2_202604.zip",
    )
    selection = select_month(objects, "2026-05")
    assert selection.family == "v2"
    assert [f.key.rsplit("/", 1)[-1] for f in selection.files] == [
        "1001_2688801000001_consumeDetailBillV2_202605.zip", "1001_2688801000001_consumeDetailBillV2_202605_2.zip"]
    assert selection.final
    assert [k for k, _ in selection.superseded] == [objects[0].key]
    reasons = dict(selection.ignored)
    assert "splitDetailBillV2" in reasons[objects[3].key]
    assert "2026-04" in reasons[objects[4].key]


def test_snapshot_before_the_final_push_is_open():
    selection = select_month(infos("b/202605/20260602100000/1_2_consumedetailbillv2_202605"), "2026-05")
    assert selection.files and not selection.final


def test_legacy_month_file_supersedes_dailies():
    objects = infos("1001_BillingItemDetail_20260501", "1001_BillingItemDetail_20260502",
                    "1001_BillingItemDetail_202605", "1001_BillingItemDetail_20260601")
    selection = select_month(objects, "2026-05")
    assert [f.key for f in selection.files] == ["1001_BillingItemDetail_202605"]
    assert selection.final
    assert len(selection.superseded) == 3


def test_legacy_dailies_include_next_month_for_late_records():
    objects = infos("1001_ACE1_BillingItemDetail_20260531", "1001_BillingItemDetail_20260601",
                    "1001_BillingItemDetail_20260715", "1001_InstanceDetail_20260531")
    selection = select_month(objects, "2026-05")
    assert [f.key for f in selection.files] == [
        "1001_ACE1_BillingItemDetail_20260531", "1001_BillingItemDetail_20260601"]
    assert not selection.final
    assert "InstanceDetail" in dict(selection.ignored)["1001_InstanceDetail_20260531"]


def test_console_exports_and_family_priority():
    objects = infos("1001-20260516105620_consumedetailbillv2.csv", "1001_BillingItemDetail_202605")
    selection = select_month(objects, "2026-05")
    assert selection.family == "legacy"
    assert dict(selection.superseded) == {objects[0].key: "a legacy subscription file covers this month"}


def test_authority_is_chosen_per_account_never_across_accounts():
    objects = infos(
        "b/202605/20260603170000/1001_2688801000001_consumeDetailBillV2_202605.zip",  # 1001 final
        "b/202605/20260520100000/1002_2688801000001_consumeDetailBillV2_202605.zip",  # 1002's older push
        "b/202605/20260521100000/1002_2688801000001_consumeDetailBillV2_202605.zip",  # 1002's newest
        "b/202605/20260521100000/1002_5000000000001_consumeDetailBillV2_202605.zip",  # 1002 on another site
        "1003_BillingItemDetail_20260514",  # 1003 has legacy dailies only
        "1004-20260516105620_consumedetailbillv2.csv", "1004_BillingItemDetail_202605",  # 1004: legacy wins
    )
    selection = select_month(objects, "2026-05")
    assert [(a.account, a.scope, a.family, [f.key for f in a.files], a.final) for a in selection.accounts] == [
        ("1001", "2688801000001", "v2", [objects[0].key], True),
        ("1002", "2688801000001", "v2", [objects[2].key], False),
        ("1002", "5000000000001", "v2", [objects[3].key], False),
        ("1003", "", "legacy", [objects[4].key], False),
        ("1004", "", "legacy", [objects[6].key], True),
    ]
    assert selection.files == [f for a in selection.accounts for f in a.files]
    assert dict(selection.superseded) == {objects[1].key: "older v2 snapshot 20260520100000",
                                          objects[5].key: "a legacy subscription file covers this month"}
    assert selection.family == "v2+legacy" and not selection.final


def test_unknown_names_are_ignored_with_a_reason():
    assert classify(ObjectInfo("notes/readme.txt", 1, "e")) == "not a bill file name this tool knows"
    assert "push folder" in str(classify(ObjectInfo("1_2_consumeDetailBillV2_202605.zip", 1, "e")))
