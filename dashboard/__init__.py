"""The dashboard: plotly figures from leaderboard rows, and the HTML pages that show them."""
