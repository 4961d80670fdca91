"""Static files of the dashboard (index.html, app.js, style.css), served by services/api/routes/dashboard.py."""
