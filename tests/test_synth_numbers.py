"""Chinese numerals of the synthetic landing zone's street offices (a 100,000-report year needs thousands)."""

from pipelines.synth import cn_number


def test_numerals_read_as_written_and_stay_distinct():
    assert [cn_number(n) for n in (1, 12, 105, 112, 1000, 1012, 1200, 40300)] == [
        "一", "十二", "一百零五", "一百一十二", "一千", "一千零一十二", "一千二百", "四万零三百"]
    names = [cn_number(n) for n in range(1, 20_000)]
    assert len(set(names)) == len(names)
