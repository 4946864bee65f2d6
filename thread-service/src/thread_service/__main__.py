from thread_service.main import main

main()
