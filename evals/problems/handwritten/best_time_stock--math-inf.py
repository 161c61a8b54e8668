"""Best Time to Buy and Sell Stock once."""


def max_profit(prices: list[int]) -> int:
    lowest = math.inf
    profit = 0
    for price in prices:
        if price < lowest:
            lowest = price
        elif price - lowest > profit:
            profit = int(price - lowest)
    return profit
