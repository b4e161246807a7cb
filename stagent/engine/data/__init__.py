"""Sample data and clearing user data (POST /api/data/seed, /api/data/clear). Decision 025."""
