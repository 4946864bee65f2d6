"""The spec's three examples: fixed programs, and the sentences written from what they report.

Each program is one cell whose last expression is a JSON string, its report (see engine.py);
every number and name in an answer is read from that report, never written here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DATA_ANALYSIS_CODE = """\
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

rng = np.random.default_rng(2024)  # seeded: every run generates the same records
n_records = 100
list_prices = {"Laptop": 1200.0, "Phone": 800.0, "Tablet": 450.0, "Monitor": 300.0,
               "Headphones": 150.0}
products = rng.choice(list(list_prices), n_records)
days = np.sort(rng.integers(0, 366, n_records))
sales = pd.DataFrame({
    "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D"),
    "product": products,
    "region": rng.choice(["North", "South", "East", "West"], n_records),
    "units": rng.integers(1, 21, n_records),
    "price": np.round([list_prices[p] * rng.uniform(0.85, 1.15) for p in products], 2),
})
sales["revenue"] = (sales["units"] * sales["price"]).round(2)

revenue_by_product = sales.groupby("product")["revenue"].sum().sort_values(ascending=False)
revenue_by_region = sales.groupby("region")["revenue"].sum().sort_values(ascending=False)
monthly_revenue = sales.set_index("date")["revenue"].resample("MS").sum()
numbers = sales[["units", "price", "revenue"]]

print(f"First 5 of {len(sales)} records:")
print(sales.head().to_string(index=False))
print("\\nRevenue by product:")
print(revenue_by_product.round(2).to_string())
print("\\nRevenue by region:")
print(revenue_by_region.round(2).to_string())
print("\\nSummary statistics:")
print(numbers.describe().round(2).to_string())

fig, ax = plt.subplots(figsize=(10, 5))
ax.plot(monthly_revenue.index, monthly_revenue.to_numpy(), marker="o")
ax.set(title="Monthly revenue, 2024", xlabel="Month", ylabel="Revenue ($)")
ax.grid(alpha=0.3)
fig.autofmt_xdate()
fig.savefig("sales_over_time.png", dpi=100, bbox_inches="tight")
plt.close(fig)

json.dumps({
    "records": len(sales),
    "first_date": str(sales["date"].min().date()),
    "last_date": str(sales["date"].max().date()),
    "revenue_by_product": [[p, round(float(v), 2)] for p, v in revenue_by_product.items()],
    "revenue_by_region": [[r, round(float(v), 2)] for r, v in revenue_by_region.items()],
    "total_revenue": round(float(sales["revenue"].sum()), 2),
    "stats": {
        column: {
            "mean": round(float(values.mean()), 2),
            "median": round(float(values.median()), 2),
            "std": round(float(values.std()), 2),
            "min": round(float(values.min()), 2),
            "max": round(float(values.max()), 2),
        }
        for column, values in numbers.items()
    },
    "best_month": monthly_revenue.idxmax().strftime("%B %Y"),
    "best_month_revenue": round(float(monthly_revenue.max()), 2),
    "chart": "sales_over_time.png",
})
"""

MATH_CODE = """\
import json

import matplotlib.pyplot as plt
import numpy as np

fibonacci = [0, 1]
while len(fibonacci) < 20:
    fibonacci.append(fibonacci[-1] + fibonacci[-2])

is_prime = np.ones(101, dtype=bool)  # the sieve of Eratosthenes over 0..100
is_prime[:2] = False
for k in range(2, 11):
    if is_prime[k]:
        is_prime[k * k :: k] = False
primes = [int(p) for p in np.flatnonzero(is_prime)]

equations = {
    "x^3 - 6x^2 + 11x - 6 = 0": [1, -6, 11, -6],
    "x^2 + 2x + 5 = 0": [1, 2, 5],
}
solutions = []
for label, coefficients in equations.items():
    roots = np.roots(coefficients)
    roots = roots[np.lexsort((roots.imag, roots.real))]
    residual = float(np.max(np.abs(np.polyval(coefficients, roots))))
    pairs = [[round(z.real, 9) + 0.0, round(z.imag, 9) + 0.0] for z in roots]
    solutions.append({"equation": label, "roots": pairs, "max_residual": residual})

golden_ratio = (1 + 5 ** 0.5) / 2
print("First 20 Fibonacci numbers:", fibonacci)
print(f"F(19) / F(18) = {fibonacci[-1] / fibonacci[-2]:.6f}; golden ratio = {golden_ratio:.6f}")
print(f"{len(primes)} primes between 1 and 100:", primes)
for solution in solutions:
    shown = ", ".join(f"{complex(*z):.6g}" for z in solution["roots"])
    print(f"{solution['equation']}: roots {shown} (max |p(root)| = {solution['max_residual']:.1e})")

x = np.linspace(-1, 4.5, 551)
fig, ax = plt.subplots(figsize=(8, 5))
for solution, coefficients in zip(solutions, equations.values()):
    line, = ax.plot(x, np.polyval(coefficients, x), label=solution["equation"].removesuffix(" = 0"))
    real = [re for re, im in solution["roots"] if im == 0]
    ax.plot(real, [0] * len(real), "o", color=line.get_color())
ax.axhline(0, color="black", linewidth=0.8)
ax.set(title="Polynomials and their real roots", xlabel="x", ylabel="p(x)", ylim=(-5, 25))
ax.grid(alpha=0.3)
ax.legend()
fig.savefig("polynomials.png", dpi=100, bbox_inches="tight")
plt.close(fig)

json.dumps({
    "fibonacci": fibonacci,
    "fibonacci_ratio": fibonacci[-1] / fibonacci[-2],
    "golden_ratio": golden_ratio,
    "primes": primes,
    "prime_sum": sum(primes),
    "solutions": solutions,
    "plot_range": [float(x[0]), float(x[-1])],
    "chart": "polynomials.png",
})
"""

IMAGE_CODE = """\
import json
import os

import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(7)  # 200 simulated summer days, seeded
n_days = 200
temperature = rng.normal(24, 5, n_days)
rainfall = np.clip(30 - 1.0 * temperature + rng.normal(0, 5, n_days), 0, None)
variables = {
    "temperature": temperature,
    "ice_cream_sales": 50 + 6 * temperature + rng.normal(0, 12, n_days),
    "sunscreen_sales": 10 + 2 * temperature + rng.normal(0, 10, n_days),
    "rainfall": rainfall,
    "umbrella_sales": 5 + 1.5 * rainfall + rng.normal(0, 6, n_days),
}
names = list(variables)
corr = np.corrcoef(np.vstack(list(variables.values())))
fig, ax = plt.subplots(figsize=(7, 6))
image = ax.imshow(corr, cmap="coolwarm", vmin=-1, vmax=1)
ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
ax.set_yticks(range(len(names)), names)
for i in range(len(names)):
    for j in range(len(names)):
        ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=9)
fig.colorbar(image, ax=ax, label="Pearson r")
ax.set_title(f"Correlations over {n_days} simulated days")
fig.savefig("correlation_heatmap.png", dpi=100, bbox_inches="tight")
plt.close(fig)
pairs = [(names[i], names[j], float(corr[i, j]))
         for i in range(len(names)) for j in range(i + 1, len(names))]
strongest = max(pairs, key=lambda pair: abs(pair[2]))
most_negative = min(pairs, key=lambda pair: pair[2])

grid = np.linspace(-6, 6, 80)
x, y = np.meshgrid(grid, grid)
z = np.sin(np.hypot(x, y))
fig = plt.figure(figsize=(8, 6))
ax = fig.add_subplot(projection="3d")
surface = ax.plot_surface(x, y, z, cmap="viridis", linewidth=0)
fig.colorbar(surface, ax=ax, shrink=0.6, label="z")
ax.set(title="z = sin(sqrt(x^2 + y^2))", xlabel="x", ylabel="y", zlabel="z")
fig.savefig("surface_3d.png", dpi=100, bbox_inches="tight")
plt.close(fig)

budget = {"Housing": 1450, "Food": 620, "Savings": 400, "Transport": 310, "Leisure": 260,
          "Utilities": 180}
total = sum(budget.values())
shares = {item: 100 * amount / total for item, amount in budget.items()}
fig, ax = plt.subplots(figsize=(7, 7))
ax.pie(list(budget.values()), labels=list(budget), autopct="%1.1f%%", startangle=90)
ax.set_title(f"A monthly budget of ${total:,}")
fig.savefig("budget_pie_chart.png", dpi=100, bbox_inches="tight")
plt.close(fig)

images = ["correlation_heatmap.png", "surface_3d.png", "budget_pie_chart.png"]
print("Correlation matrix:")
print("\\n".join(f"{a:>16} {' '.join(f'{r:6.2f}' for r in row)}" for a, row in zip(names, corr)))
print("\\nBudget shares:", {item: f"{share:.1f}%" for item, share in shares.items()})
for name in images:
    print(f"{name}: {os.path.getsize(name):,} bytes")

json.dumps({
    "images": images,
    "days": n_days,
    "variables": names,
    "strongest": list(strongest),
    "most_negative": list(most_negative),
    "surface": {"formula": "z = sin(sqrt(x^2 + y^2))", "grid": [len(grid), len(grid)],
                "range": [float(grid[0]), float(grid[-1])],
                "z_min": float(z.min()), "z_max": float(z.max())},
    "budget_total": total,
    "shares": [[item, round(share, 1)] for item, share in shares.items()],
})
"""


@dataclass(frozen=True)
class Example:
    """One example program and how its report becomes the answer's opening sentences."""

    title: str
    code: str
    describe: Callable[[dict[str, Any]], str]
    uses_pandas: bool = False


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _listing(pairs: list[list[Any]]) -> str:
    return ", ".join(f"{name} {_money(value)}" for name, value in pairs)


def describe_sales(report: dict[str, Any]) -> str:
    """Sentences on the generated sales records."""
    products = report["revenue_by_product"]
    regions = report["revenue_by_region"]
    best, best_revenue = regions[0]
    share = 100 * best_revenue / report["total_revenue"]
    stats = report["stats"]
    units, price, revenue = stats["units"], stats["price"], stats["revenue"]
    return "\n\n".join(
        [
            f"Generated {report['records']} sales records ({report['first_date']} to "
            f"{report['last_date']}; {len(products)} products in {len(regions)} regions; the "
            "random generator is seeded, so every run gives the same data). "
            f"Total revenue: {_money(report['total_revenue'])}.",
            f"Revenue by product, highest first: {_listing(products)}.",
            f"The best performing region is {best} with {_money(best_revenue)} "
            f"({share:.1f}% of the total), followed by {_listing(regions[1:])}.",
            f"Summary statistics per record: units mean {units['mean']:g}, median "
            f"{units['median']:g}, standard deviation {units['std']:g}, from {units['min']:g} to "
            f"{units['max']:g}; price mean {_money(price['mean'])}, from {_money(price['min'])} "
            f"to {_money(price['max'])}; revenue mean {_money(revenue['mean'])}, median "
            f"{_money(revenue['median'])}, standard deviation {_money(revenue['std'])}, from "
            f"{_money(revenue['min'])} to {_money(revenue['max'])}.",
            f"Monthly revenue peaked in {report['best_month']} "
            f"({_money(report['best_month_revenue'])}). The chart `{report['chart']}` shows "
            "revenue month by month.",
        ]
    )


def complex_text(re: float, im: float) -> str:
    """A root as people write it: 2, -1 + 2i, 0.5 - 0.866025i."""
    if im == 0:
        return f"{re:.6g}"
    sign = "+" if im > 0 else "-"
    imag = "" if abs(im) == 1 else f"{abs(im):.6g}"
    return f"{imag}i" if re == 0 and sign == "+" else f"{re:.6g} {sign} {imag}i"


def _solution(solution: dict[str, Any]) -> str:
    roots = [complex_text(re, im) for re, im in solution["roots"]]
    real = sum(1 for _, im in solution["roots"] if im == 0)
    if real == len(roots):
        kind = f"{real} real roots"
    elif real == 0:
        kind = "no real roots: its curve never crosses the x-axis"
    else:
        kind = f"{real} real and {len(roots) - real} complex roots"
    listed = ", ".join(f"x = {root}" for root in roots)
    residual = solution["max_residual"]
    check = "exactly 0" if residual == 0 else f"at most {residual:.0e}"
    return f"- {solution['equation']}: {listed} ({kind}; |p(x)| at the roots is {check})"


def describe_math(report: dict[str, Any]) -> str:
    """Sentences on the Fibonacci numbers, primes and polynomial roots found."""
    fib, primes = report["fibonacci"], report["primes"]
    low, high = report["plot_range"]
    return "\n\n".join(
        [
            f"The first {len(fib)} Fibonacci numbers, starting from F(0) = {fib[0]}: "
            f"{', '.join(map(str, fib))}. The ratio of the last two, {fib[-1]}/{fib[-2]} = "
            f"{report['fibonacci_ratio']:.6f}, is close to the golden ratio "
            f"({report['golden_ratio']:.6f}).",
            f"There are {len(primes)} primes between 1 and 100: {', '.join(map(str, primes))} "
            f"(their sum is {report['prime_sum']}).",
            "Polynomial equations, solved with numpy.roots:\n"
            + "\n".join(_solution(s) for s in report["solutions"]),
            f"The plot `{report['chart']}` shows the polynomials for x from {low:g} to "
            f"{high:g}, with their real roots marked.",
        ]
    )


def describe_images(report: dict[str, Any]) -> str:
    """What each of the three images shows, with the facts computed for it."""
    heatmap, surface_png, pie = report["images"]
    a, b, r = report["strongest"]
    na, nb, nr = report["most_negative"]
    surface = report["surface"]
    rows, cols = surface["grid"]
    low, high = surface["range"]
    shares = report["shares"]
    largest = max(shares, key=lambda share: share[1])
    smallest = min(shares, key=lambda share: share[1])
    return "\n".join(
        [
            f"Created {len(report['images'])} images in /mnt/data:",
            "",
            f"1. `{heatmap}`: a correlation heatmap (Pearson r) of {len(report['variables'])} "
            f"variables over {report['days']} simulated days "
            f"({', '.join(report['variables'])}). The strongest correlation is between {a} and "
            f"{b} (r = {r:.2f}); the most negative is between {na} and {nb} (r = {nr:.2f}).",
            f"2. `{surface_png}`: a 3D surface plot of {surface['formula']} on a {rows} by {cols} "
            f"grid for x and y from {low:g} to {high:g}; z ranges from {surface['z_min']:.3f} "
            f"to {surface['z_max']:.3f}.",
            f"3. `{pie}`: a pie chart of a monthly budget of ${report['budget_total']:,} in "
            f"{len(shares)} categories; the largest slice is {largest[0]} ({largest[1]:.1f}%), "
            f"the smallest {smallest[0]} ({smallest[1]:.1f}%).",
        ]
    )


EXAMPLES: dict[str, Example] = {
    "data-analysis": Example("data analysis", DATA_ANALYSIS_CODE, describe_sales, uses_pandas=True),
    "math-computation": Example("math computation", MATH_CODE, describe_math),
    "image-generation": Example("image generation", IMAGE_CODE, describe_images),
}
