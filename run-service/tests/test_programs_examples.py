"""The three example programs, really run in the bubblewrap sandbox."""

from __future__ import annotations

import re
import uuid

import pytest

from run_service.engines import RunOutcome, RunRequest
from run_service.engines.sandbox_executor import SandboxExecutor
from run_service.programs import PROGRAM_NAMES, ProgramEngine
from run_service.sandbox import SessionPool

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_thread() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def run_program(pool: SessionPool, name: str, thread_id: str | None = None) -> RunOutcome:
    executor = SandboxExecutor(pool, thread_id or new_thread())
    return await ProgramEngine(name).run(RunRequest(message=""), executor)


def written(outcome: RunOutcome) -> list[str]:
    return [name for execution in outcome.executions for name in execution.files]


def printed_table(answer: str, title: str) -> dict[str, float]:
    """A `name value` table the program printed under `title`, read back from the answer."""
    block = answer.split(title, 1)[1].split("\n\n", 1)[0]
    rows = (line.split() for line in block.strip().splitlines())
    return {row[0]: float(row[1]) for row in rows if len(row) == 2}


def test_program_names_and_unknown_names() -> None:
    assert PROGRAM_NAMES == ("analyze", "data-analysis", "math-computation", "image-generation")
    with pytest.raises(ValueError, match="unknown program 'chat'"):
        ProgramEngine("chat")


async def test_data_analysis_reports_100_records_and_the_best_region(pool: SessionPool) -> None:
    thread_id = new_thread()

    outcome = await run_program(pool, "data-analysis", thread_id)

    assert all(execution.error is None for execution in outcome.executions)
    assert outcome.answer.startswith("Generated 100 sales records")
    regions = printed_table(outcome.answer, "Revenue by region:\nregion\n")
    best = max(regions, key=lambda region: regions[region])
    assert len(regions) == 4
    assert f"The best performing region is {best} with ${regions[best]:,.2f}" in outcome.answer
    products = printed_table(outcome.answer, "Revenue by product:\nproduct\n")
    for product, revenue in products.items():
        assert f"{product} ${revenue:,.2f}" in outcome.answer
    assert "Summary statistics per record: units mean" in outcome.answer
    assert written(outcome) == ["sales_over_time.png"]
    assert pool.read_file(thread_id, "sales_over_time.png").startswith(PNG_SIGNATURE)


async def test_data_analysis_is_reproducible(pool: SessionPool) -> None:
    first = await run_program(pool, "data-analysis")
    second = await run_program(pool, "data-analysis")

    assert first.answer == second.answer


async def test_math_lists_fibonacci_primes_and_roots(pool: SessionPool) -> None:
    thread_id = new_thread()

    outcome = await run_program(pool, "math-computation", thread_id)

    # The 20 Fibonacci numbers from F(0) = 0 to F(19) = 4181.
    fibonacci = [0, 1]
    while len(fibonacci) < 20:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    assert ", ".join(map(str, fibonacci)) + "." in outcome.answer
    assert fibonacci[-1] == 4181
    primes = [n for n in range(2, 101) if all(n % d for d in range(2, n))]
    assert f"There are 25 primes between 1 and 100: {', '.join(map(str, primes))}" in (
        outcome.answer
    )
    assert "x^3 - 6x^2 + 11x - 6 = 0: x = 1, x = 2, x = 3 (3 real roots" in outcome.answer
    assert "x^2 + 2x + 5 = 0: x = -1 - 2i, x = -1 + 2i (no real roots" in outcome.answer
    assert written(outcome) == ["polynomials.png"]
    assert pool.read_file(thread_id, "polynomials.png").startswith(PNG_SIGNATURE)


async def test_image_generation_makes_exactly_three_pngs(pool: SessionPool) -> None:
    thread_id = new_thread()

    outcome = await run_program(pool, "image-generation", thread_id)

    images = sorted(written(outcome))
    assert images == ["budget_pie_chart.png", "correlation_heatmap.png", "surface_3d.png"]
    for image in images:
        assert pool.read_file(thread_id, image).startswith(PNG_SIGNATURE)
        assert f"`{image}`" in outcome.answer
    assert outcome.answer.startswith("Created 3 images")


async def test_image_generation_names_the_strongest_correlation_it_printed(
    pool: SessionPool,
) -> None:
    outcome = await run_program(pool, "image-generation")

    matrix = outcome.answer.split("Correlation matrix:\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in matrix.splitlines()]
    names = [row[0] for row in rows]
    pairs = [
        (names[i], names[j], float(rows[i][j + 1]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
    ]
    a, b, r = max(pairs, key=lambda pair: abs(pair[2]))
    assert f"The strongest correlation is between {a} and {b} (r = {r:.2f})" in outcome.answer


async def test_a_failing_program_says_what_failed_and_shows_the_traceback(
    pool: SessionPool,
) -> None:
    thread_id = new_thread()
    # The thread's session is shared with the user's code, which may have broken numpy.
    await pool.execute(thread_id, "import numpy\nnumpy.roots = None")

    outcome = await run_program(pool, "math-computation", thread_id)

    assert outcome.answer.startswith("The built-in math computation program failed with TypeError")
    assert "Traceback (most recent call last)" in outcome.answer
    assert "primes between" not in re.sub(r"```.*?```", "", outcome.answer, flags=re.S)
    assert outcome.executions[-1].error is not None
