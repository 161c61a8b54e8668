"""Best Time to Buy and Sell Stock once."""


def max_profit(prices: list[int]) -> int:
    lowest = float("inf")
    profit = 0
    for price in prices:
        if price < lowest:
            lowest = price
        elif price - lowest > profit:
            profit = int(price - lowest)
    return profit


# --- tests ---
def test_max_profit():
    assert max_profit([7, 1, 5, 3, 6, 4]) == 5
    assert max_profit([7, 6, 4, 3, 1]) == 0
    assert max_profit([2, 4, 1]) == 2
    assert max_profit([]) == 0
