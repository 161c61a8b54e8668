"""Best Time to Buy and Sell Stock once."""


def max_profit(prices: list[int]) -> int:
    lowest = float("inf")
    profit = 0
    for price in prices:
        if price < lowest:
            lowest = price
        elif price - lowset > profit:
            profit = int(price - lowest)
    return profit
