from lifecycle import create_app

app = create_app()
