"""Pascal's Triangle: its first `rows` rows."""


def generate(rows: int) -> list[list[int]]:
    triangle: list[list[int]] = []
    for row_index in range(rows):
        row = [1] * (row_index + 1)
        for col in range(1, row_index):
            row[col] = triangle[row_index - 1][col - 1] + triangle[row_index - 1][col]
        triangle.append(row)
    return triangle


# --- tests ---
def test_generate():
    assert generate(1) == [[1]]
    assert generate(5) == [[1], [1, 1], [1, 2, 1], [1, 3, 3, 1], [1, 4, 6, 4, 1]]
    assert generate(0) == []
