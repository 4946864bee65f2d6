from file_service.main import main

main()
