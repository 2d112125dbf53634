import { Module } from '@nestjs/common';
import { MembersHook } from './members.hook.js';
import { MembersRepository } from './members.repository.js';
import { MembersService } from './members.service.js';

@Module({
  providers: [MembersRepository, MembersService, MembersHook],
  exports: [MembersService],
})
export class MembersModule {}
