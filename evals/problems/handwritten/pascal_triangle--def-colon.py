"""Pascal's Triangle: its first `rows` rows."""


def generate(rows: int) -> list[list[int]]
    triangle: list[list[int]] = []
    for row_index in range(rows):
        row = [1] * (row_index + 1)
        for col in range(1, row_index):
            row[col] = triangle[row_index - 1][col - 1] + triangle[row_index - 1][col]
        triangle.append(row)
    return triangle
